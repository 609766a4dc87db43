using GovShare.Node.Catalog;

namespace GovShare.Node.Requests;

/// <summary>What the user says of the data.</summary>
public enum DisputeKind
{
    /// <summary>Doubtful (疑议): the user cannot reconcile it with what it knows.</summary>
    Doubtful,

    /// <summary>Wrong (错误): the user holds evidence it is wrong.</summary>
    Wrong,

    /// <summary>
    /// Inconsistent (不一致): a comparison (issue 23) found the user's copy and the provider's data differ.
    /// The dispute names that comparison (<see cref="Dispute.ComparisonId"/>, its exchange id) and only items it compared.
    /// </summary>
    Inconsistent,
}

/// <summary>Where a dispute stands: open until the provider answers.</summary>
public enum DisputeStatus
{
    Open,

    /// <summary>The provider confirmed the flaw and published a correcting data version.</summary>
    Corrected,

    /// <summary>The provider checked and keeps the data, with a reason.</summary>
    Rejected,
}

/// <summary>
/// The provider's answer to a dispute; <see cref="Late"/> when given after the due day. A correction
/// names the pushed version that corrects the data (<see cref="CorrectingVersion"/>, later than the
/// disputed one) and points to that push (<see cref="CorrectingExchangeId"/>, its exchange id in the exchange log).
/// </summary>
public sealed record DisputeAnswer(
    DisputeStatus Outcome,
    string By,
    DateTimeOffset At,
    bool Late,
    string? CorrectingVersion = null,
    string? Reason = null,
    string? CorrectingExchangeId = null);

/// <summary>
/// A user's flag of doubtful or wrong data (Art. 27): a resource, the data version it read,
/// optionally some rows (by key) and items. The provider must verify and answer by
/// <see cref="Due"/> (working days after raising, a setting). An inconsistency case is a dispute of kind
/// <see cref="DisputeKind.Inconsistent"/> opened from a comparison: <see cref="ComparisonId"/> is that comparison's
/// exchange id in the exchange log, so the case's life (inbox, due day, correction by a push, Art. 42 scan) is the dispute's.
/// </summary>
public sealed record Dispute(
    string Id,
    DepartmentRef User,
    DepartmentRef Provider,
    string ResourceCode,
    string DataVersion,
    DisputeKind Kind,
    IReadOnlyList<string> RowKeys,
    IReadOnlyList<string> Items,
    string Description,
    DateTimeOffset RaisedAt,
    DateOnly Due,
    bool DueProvisional,
    DisputeStatus Status,
    DisputeAnswer? Answer = null,
    string? ComparisonId = null) : IAnswerableCase
{
    /// <summary>Computed on read, never stored: still open after its due day.</summary>
    public bool Overdue { get; init; }

    public bool IsOverdue(DateOnly today) => Status == DisputeStatus.Open && today > Due;

    DepartmentRef IAnswerableCase.Respondent => Provider;

    string? IAnswerableCase.CaseResource => ResourceCode;

    DateTimeOffset IAnswerableCase.OpenedAt => RaisedAt;

    bool IAnswerableCase.IsAnswered => Status != DisputeStatus.Open;
}
