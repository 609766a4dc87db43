using GovShare.Node.Calendar;
using GovShare.Node.Catalog;

namespace GovShare.Node.Requests;

/// <summary>
/// A case a department must answer by a due day on the working-day calendar: a dispute (Art. 27),
/// a complaint (Art. 29), and any later kind of case (an inconsistency found by comparison, Art. 15).
/// The evaluation reads cases through this alone: one left open after its due day is a violation,
/// notified, re-checked and escalated like every other (Evaluation/README.md), whatever its kind.
/// </summary>
public interface IAnswerableCase
{
    string Id { get; }

    /// <summary>The department that must answer.</summary>
    DepartmentRef Respondent { get; }

    /// <summary>The resource the case is about, if any.</summary>
    string? CaseResource { get; }

    DateTimeOffset OpenedAt { get; }

    /// <summary>The last day (China time) an answer is in time.</summary>
    DateOnly Due { get; }

    bool DueProvisional { get; }

    /// <summary>True once answered (in time or late).</summary>
    bool IsAnswered { get; }
}

/// <summary>The deadline arithmetic every case shares, so each kind counts the same way.</summary>
public static class CaseDeadline
{
    /// <summary>
    /// <paramref name="workingDays"/> working days after the day (China time) of <paramref name="openedAt"/>,
    /// that day not counted; provisional where the calendar lacks a year's holiday file.
    /// </summary>
    public static DateOnly Due(WorkingDayCalendar calendar, DateTimeOffset openedAt, int workingDays, out bool provisional)
    {
        ArgumentNullException.ThrowIfNull(calendar);
        return calendar.AddWorkingDays(WorkingDayCalendar.ToChinaDate(openedAt), workingDays, out provisional);
    }

    /// <summary>Still unanswered after its due day (an answer on the due day, to 23:59 China time, is in time).</summary>
    public static bool IsOverdue(this IAnswerableCase @case, DateOnly today)
    {
        ArgumentNullException.ThrowIfNull(@case);
        return !@case.IsAnswered && today > @case.Due;
    }
}

/// <summary>A version of a resource's data as it was published by a push.</summary>
public sealed record PublishedVersion(string ResourceCode, int Version, string ExchangeId, DateTimeOffset PushedAt);

/// <summary>
/// The data versions pushed to this node, as the disputes check them (Art. 27: the disputed version
/// must exist, the correction is a later push). The exchange feature, above this one, answers it from
/// its dataset store; the interface lets the requests feature ask without depending on it.
/// </summary>
public interface IPublishedVersions
{
    /// <summary>The number of the latest published version of the resource; null when nothing was pushed.</summary>
    int? Latest(string resourceCode);

    /// <summary>A version still held (older ones are pruned: their numbers existed, their records are gone).</summary>
    PublishedVersion? Find(string resourceCode, int version);
}
