using System.Text.Json.Serialization;
using GovShare.Node.Desensitisation;

namespace GovShare.Node.Requests;

/// <summary>Where a grant stands. Only an active grant within its validity lets a pull through.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<GrantStatus>))]
public enum GrantStatus
{
    Active,

    /// <summary>Withdrawn by the provider; takes effect at once, pulls in progress included.</summary>
    Revoked,

    /// <summary>The catalog changed under it (an item removed, the resource no longer shared): see <see cref="Grant.StatusReason"/>.</summary>
    Suspended,
}

/// <summary>One granted information item and how it is masked for this user.</summary>
public sealed record GrantedItem(string ItemId, MaskingRule Masking);

/// <summary>
/// Permission for one user department to pull some items of one conditional resource, for one
/// purpose, in a period (Art. 25, 32, 33): access rights as data. Made by the provider's
/// decision on a share request (or by the operator), checked on every pull. <see cref="Purpose"/>
/// is the request's purpose code; <see cref="Decision"/> the decision id (or the operator's
/// reference to a decision taken elsewhere); <see cref="RequestId"/> the request it answers, if any.
/// A grant never allows providing the data on (Art. 33): that is an <see cref="OnwardConsent"/>, per
/// recipient and purpose. Grants stored before carried an <c>onwardSharing</c> flag nobody read;
/// it is ignored when they are read (unknown JSON properties are skipped) and gone when they are written again.
/// </summary>
public sealed record Grant(
    string Id,
    string UserDivision,
    string UserCreditCode,
    string ResourceCode,
    IReadOnlyList<GrantedItem> Items,
    string Purpose,
    DateTimeOffset ValidFrom,
    DateTimeOffset ValidTo,
    GrantStatus Status,
    string Decision,
    DateTimeOffset CreatedAt,
    string? StatusReason = null,
    DateTimeOffset? StatusChangedAt = null,
    string? RequestId = null)
{
    /// <summary>True when the grant lets a pull through at <paramref name="now"/>.</summary>
    public bool IsEffective(DateTimeOffset now) => Status == GrantStatus.Active && now >= ValidFrom && now < ValidTo;
}
