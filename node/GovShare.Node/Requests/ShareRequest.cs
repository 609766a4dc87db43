using GovShare.Node.Catalog;

namespace GovShare.Node.Requests;

/// <summary>Where a share request stands. Only <see cref="Submitted"/> takes a decision or a withdrawal.</summary>
public enum ShareRequestStatus
{
    Submitted,
    Approved,
    Denied,

    /// <summary>Taken back by the user before a decision.</summary>
    Withdrawn,

    /// <summary>The requested period of use ended without a decision.</summary>
    Expired,
}

/// <summary>The purpose of use (Art. 25, 32): a short code a pull names in its purpose header, and a sentence.</summary>
public sealed record RequestPurpose(string Code, string Text);

/// <summary>A period of days, both ends included, in China Standard Time.</summary>
public sealed record UsePeriod(DateOnly From, DateOnly To);

/// <summary>Who at the user department answers questions about the request.</summary>
public sealed record RequestContact(string Name, string Phone, string? Email = null);

/// <summary>How a provider decided.</summary>
public enum DecisionOutcome
{
    Approve,
    Deny,
}

/// <summary>
/// A provider's decision on a share request. An approval names the granted items with their
/// masking, the validity and the grant it made; a denial its reason code and text (Art. 25).
/// <see cref="Late"/> records that it came after the due date.
/// </summary>
public sealed record ShareDecision(
    string Id,
    DecisionOutcome Outcome,
    string By,
    DateTimeOffset At,
    bool Late,
    IReadOnlyList<GrantedItem>? Items = null,
    UsePeriod? Validity = null,
    string? GrantId = null,
    string? ReasonCode = null,
    string? ReasonText = null);

/// <summary>
/// A user department's application (共享申请) for some items of a conditional resource, for a
/// purpose, on a legal basis, for a period of use (Art. 25). The provider answers by
/// <see cref="Due"/>, 10 working days after submission; <see cref="DueProvisional"/> when the
/// count crossed a year without holiday data (weekends only).
/// </summary>
public sealed record ShareRequest(
    string Id,
    DepartmentRef User,
    DepartmentRef Provider,
    string ResourceCode,
    IReadOnlyList<string> Items,
    RequestPurpose Purpose,
    string LegalBasis,
    UsePeriod Period,
    RequestContact Contact,
    DateTimeOffset SubmittedAt,
    DateOnly Due,
    bool DueProvisional,
    ShareRequestStatus Status,
    DateTimeOffset StatusChangedAt,
    ShareDecision? Decision = null)
{
    /// <summary>Computed on read, never stored: still undecided after its due day.</summary>
    public bool Overdue { get; init; }

    /// <summary>True when undecided and <paramref name="today"/> (China date) is past the due day.</summary>
    public bool IsOverdue(DateOnly today) => Status == ShareRequestStatus.Submitted && today > Due;
}
