using System.Text.Json.Serialization;
using GovShare.Node.Catalog;

namespace GovShare.Node.Evaluation;

/// <summary>The violations of Art. 42 the node detects.</summary>
public enum ViolationKind
{
    /// <summary>The department has not compiled its catalog (no active entry).</summary>
    CatalogNotCompiled,

    /// <summary>A catalog entry was not maintained within the year (Art. 18).</summary>
    CatalogNotUpdated,

    /// <summary>Data was not updated within its update cycle plus 10 working days (Art. 16).</summary>
    DataLate,

    /// <summary>Data was found inconsistent: a dispute confirmed, or left unanswered past its due day (Art. 27).</summary>
    DataInconsistent,

    /// <summary>Use outside the stated purpose or beyond the grant (Art. 32).</summary>
    PurposeMisuse,

    /// <summary>The catalog was not updated within 15 working days of a recorded change in law or duties (Art. 11).</summary>
    CatalogUpdateMissed,
}

/// <summary>Where a violation stands. Notified → rectified | escalated; escalated → rectified; rectified is final.</summary>
public enum ViolationStatus
{
    Notified,
    Rectified,
    Escalated,
}

/// <summary>One status change of a violation.</summary>
public sealed record ViolationStatusChange(ViolationStatus? From, ViolationStatus To, string By, DateTimeOffset At, string? Note);

/// <summary>
/// A violation found by a scan: what (kind and rule), who (the department at fault), on which
/// resource, with its evidence in the logs, and the day by which it must be rectified.
/// <see cref="OccurredOn"/> is the day the rule was broken (China time; the report's year is taken from it);
/// <see cref="Key"/> names the occurrence, so a scan never records it twice; <see cref="Id"/> is derived from it.
/// </summary>
public sealed record Violation(
    string Id,
    string Key,
    ViolationKind Kind,
    string Rule,
    DepartmentRef Department,
    string? ResourceCode,
    string Summary,
    IReadOnlyList<LogReference> Evidence,
    DateOnly OccurredOn,
    DateTimeOffset DetectedAt,
    DateOnly RectifyBy,
    bool RectifyByProvisional,
    ViolationStatus Status,
    IReadOnlyList<ViolationStatusChange> History)
{
    /// <summary>Computed on read: still notified after the rectification day.</summary>
    [JsonInclude]
    public bool RectificationOverdue { get; init; }

    /// <summary>Whether <paramref name="to"/> may follow the current status.</summary>
    public bool CanMoveTo(ViolationStatus to) => (Status, to) switch
    {
        (ViolationStatus.Notified, ViolationStatus.Rectified or ViolationStatus.Escalated) => true,
        (ViolationStatus.Escalated, ViolationStatus.Rectified) => true,
        _ => false,
    };
}

/// <summary>A violation as the detector finds it, before it is recorded.</summary>
public sealed record ViolationFinding(
    string Key,
    ViolationKind Kind,
    string Rule,
    DepartmentRef Department,
    string? ResourceCode,
    string Summary,
    IReadOnlyList<LogReference> Evidence,
    DateOnly OccurredOn);

/// <summary>The answer of a scan: how many violations the logs show, and the ones new to this scan.</summary>
public sealed record ViolationScan(DateTimeOffset ScannedAt, int Detected, int Recorded, IReadOnlyList<Violation> New);
