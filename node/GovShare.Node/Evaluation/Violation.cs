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

    /// <summary>Use outside the stated purpose or beyond the grant (Art. 32), or data provided on without consent (Art. 33).</summary>
    PurposeMisuse,

    /// <summary>A share request not answered within its 10 working days (Art. 25).</summary>
    RequestOverdue,

    /// <summary>A complaint not answered by its due day (Art. 29).</summary>
    ComplaintUnanswered,

    /// <summary>The catalog was not updated within 15 working days of a recorded change in law or duties (Art. 11).</summary>
    CatalogUpdateMissed,

    /// <summary>A child node's annual report not at this node by its due day (Art. 40: 15 January, a province's by the end of February).</summary>
    ReportLate,
}

/// <summary>
/// Where a violation stands. Notified → rectified | escalated; escalated → rectified; rectified is final.
/// A scan moves them too (Evaluation/README.md, "The loop"): rectified when a re-check no longer finds
/// the violation standing, escalated when it still stands after its rectification day.
/// </summary>
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
    /// <summary>
    /// Where an escalation went: the parent node's office (<c>govshare:node/&lt;division&gt;</c>) for a child
    /// node, <see cref="EscalationTarget.LeadingGroupReport"/> at the top of the tree (the province). Null until escalated.
    /// </summary>
    public string? EscalatedTo { get; init; }

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
    DateOnly OccurredOn)
{
    /// <summary>
    /// Whether the violation still stands as of the scan: the request still unanswered, the data still
    /// late. False when the records already show it put right (a late answer, a late push, a correction).
    /// An event (a refused pull) always stands: only the operator declares it rectified.
    /// </summary>
    public bool Standing { get; init; } = true;
}

/// <summary>
/// The answer of a scan: how many violations the records show, the ones new to this scan (each notified
/// to its department), and the recorded ones the re-check moved on: rectified (no longer standing) or
/// escalated (still standing after their rectification day).
/// </summary>
public sealed record ViolationScan(DateTimeOffset ScannedAt, string By, int Detected, int Recorded, IReadOnlyList<Violation> New, IReadOnlyList<Violation> Rectified, IReadOnlyList<Violation> Escalated);
