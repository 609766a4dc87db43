using System.Collections.Immutable;
using System.Security.Cryptography;
using GovShare.Node.Catalog;
using GovShare.Node.Kernel;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Hierarchy;

/// <summary>Where the office's review of a filing stands.</summary>
public enum FilingStatus
{
    /// <summary>Received, not yet reviewed.</summary>
    Received,

    /// <summary>The office reviewed and accepted it (审核通过).</summary>
    Approved,

    /// <summary>The office sent it back, with its reason, for the child to correct and publish again.</summary>
    SentBack,
}

/// <summary>
/// A catalog filing (备案, Art. 12): a child node's publication of its subtree's sharing catalog as
/// this node received it — when, how many entries, the SHA-256 of what was received, and which
/// resource codes it added, removed or changed against the child's previous publication — and
/// the office's review of it. <see cref="Signature"/> is the child node's signature over the publication as
/// it was sent (absent on filings received before publications were signed).
/// </summary>
public sealed record CatalogFiling(
    string Id,
    string Child,
    DateTimeOffset ReceivedAt,
    int Entries,
    string Sha256,
    IReadOnlyList<string> Added,
    IReadOnlyList<string> Removed,
    IReadOnlyList<string> Changed,
    FilingStatus Status,
    string? ReviewedBy = null,
    DateTimeOffset? ReviewedAt = null,
    string? Reason = null,
    FilingSignature? Signature = null);

/// <summary>
/// Which node filed what: the signature of a <see cref="CatalogFilings.SubmissionKind"/> submission as the parent
/// verified it — the signer's node and key (SPKI SHA-256), its certificate, the signing time, the SHA-256 of the
/// exact bytes it signed (also the submission's subject) and the signature. The publication's bytes themselves are
/// not kept (up to <see cref="HierarchyApi.MaxPublicationBytes"/>: too large for a change-log record); given them,
/// <see cref="SignedSubmission.SigningInput"/> with this verifies again.
/// </summary>
public sealed record FilingSignature(string Node, string SignerKeySha256, DateTimeOffset SignedAt, string PayloadSha256, string Signature, string Certificate)
{
    /// <summary>The signature of a verified <paramref name="submission"/>, whose signer's key is <paramref name="signerKeySha256"/>.</summary>
    public static FilingSignature Of(SignedSubmission submission, string signerKeySha256)
    {
        ArgumentNullException.ThrowIfNull(submission);
        return new(submission.Node, signerKeySha256, submission.SignedAt, submission.PayloadSha256, submission.Signature, submission.Certificate);
    }
}

/// <summary>How a review of a filing ended.</summary>
public enum FilingReviewOutcome
{
    Ok,
    NotFound,
    Invalid,

    /// <summary>The filing was reviewed already; a filing is reviewed once.</summary>
    AlreadyReviewed,
}

/// <summary>
/// The filings this node received from its children (<c>catalog_filings</c>). Receiving one and
/// the office's review of it are <c>registry-change</c> change-log records with entity
/// <c>filing/&lt;id&gt;</c> and the filing as it stands after them (<see cref="CatalogFilingReplayer"/>).
/// </summary>
public sealed class CatalogFilings
{
    /// <summary>The change-log entity of a filing.</summary>
    public const string EntityPrefix = "filing/";

    /// <summary>The most codes a filing lists per kind of change; the counts beyond are in the publication itself.</summary>
    public const int MaxListedCodes = 1000;

    /// <summary>The <see cref="SignedSubmission.Kind"/> a child's catalog publication travels as; its subject is the payload's SHA-256.</summary>
    public const string SubmissionKind = "catalog-publication";

    private readonly IStateStore _state;
    private readonly IStateJournal _journal;
    private readonly TimeProvider _time;
    private readonly IStateDocuments<FilingDocument> _filings;
    private volatile ImmutableList<CatalogFiling> _snapshot;

    public CatalogFilings(NodeDataFolder data, TimeProvider time, IStateJournal journal)
    {
        ArgumentNullException.ThrowIfNull(data);
        _state = data.State;
        _journal = journal;
        _time = time;
        _filings = data.Collection<FilingDocument>("catalog_filings", f => f.Child);
        _snapshot = Load();
        _state.OnChangedElsewhere(() => _snapshot = Load());
    }

    /// <summary>
    /// Records a publication of <paramref name="child"/> against what it published before. Call
    /// inside the state write that replaces the aggregate. A publication identical to the child's
    /// last filing (a republication after a restart) files nothing new: null.
    /// </summary>
    public CatalogFiling? Receive(string child, IReadOnlyList<AggregatedEntry> before, CatalogPublication publication, string by, FilingSignature? signature = null)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(publication);
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(publication, CatalogJson.Options)));
        if (Of(child) is { Count: > 0 } previous && previous[^1].Sha256 == sha256)
        {
            return null;
        }

        static string Key(AggregatedEntry e) => e.OwnerNode + ":" + e.Entry.ResourceCode;
        var old = before.ToDictionary(Key, e => JsonSerializer.Serialize(e.Entry, CatalogJson.Options), StringComparer.Ordinal);
        var now = publication.Entries.ToDictionary(Key, e => JsonSerializer.Serialize(e.Entry, CatalogJson.Options), StringComparer.Ordinal);
        var filing = new CatalogFiling(
            $"fil-{child}-{_filings.Where(f => f.Child, child).Count + 1:D4}",
            child,
            _time.GetUtcNow(),
            publication.Entries.Count,
            sha256,
            [.. now.Keys.Where(k => !old.ContainsKey(k)).Order(StringComparer.Ordinal).Take(MaxListedCodes)],
            [.. old.Keys.Where(k => !now.ContainsKey(k)).Order(StringComparer.Ordinal).Take(MaxListedCodes)],
            [.. now.Where(p => old.TryGetValue(p.Key, out var o) && o != p.Value).Select(p => p.Key).Order(StringComparer.Ordinal).Take(MaxListedCodes)],
            FilingStatus.Received,
            Signature: signature);
        _state.Write(() =>
        {
            Apply(filing);
            Journal("received", filing, by, filing.ReceivedAt);
        });
        return filing;
    }

    /// <summary>The office's review: approve, or send back with a reason (required).</summary>
    public FilingReviewOutcome Review(string id, bool approve, string? reason, string by, out CatalogFiling? reviewed)
    {
        reviewed = null;
        reason = string.IsNullOrWhiteSpace(reason) ? null : reason.Trim();
        if ((!approve && reason is null) || reason?.Length > CatalogLimits.MaxConditionLength)
        {
            return FilingReviewOutcome.Invalid;
        }

        var result = _state.Write(() =>
        {
            if (Find(id) is not { } filing)
            {
                return (FilingReviewOutcome.NotFound, (CatalogFiling?)null);
            }

            if (filing.Status != FilingStatus.Received)
            {
                return (FilingReviewOutcome.AlreadyReviewed, filing);
            }

            var now = _time.GetUtcNow();
            var after = filing with { Status = approve ? FilingStatus.Approved : FilingStatus.SentBack, ReviewedBy = by, ReviewedAt = now, Reason = reason };
            Apply(after);
            Journal(approve ? "approved" : "sent-back", after, by, now);
            return (FilingReviewOutcome.Ok, after);
        });
        reviewed = result.Item2;
        return result.Item1;
    }

    public IReadOnlyList<CatalogFiling> All() => _snapshot;

    public IReadOnlyList<CatalogFiling> Of(string child) => [.. _snapshot.Where(f => f.Child == child)];

    public CatalogFiling? Find(string id) => _snapshot.FirstOrDefault(f => f.Id == id);

    private void Journal(string action, CatalogFiling filing, string by, DateTimeOffset at) =>
        _state.MarkApplied(_journal.Append(new StateChange(Identity.DepartmentRegistry.ChangeKind, EntityPrefix + filing.Id, by, at,
            JsonSerializer.SerializeToElement(new FilingRecord(action, filing), CatalogJson.Options))));

    /// <summary>Stores a filing as it stands; the snapshot follows at commit. Call inside a state write.</summary>
    internal void Apply(CatalogFiling filing)
    {
        _filings.Put(new FilingDocument { Id = filing.Id, Child = filing.Child, Json = JsonSerializer.Serialize(filing, CatalogJson.Options) });
        _state.AfterCommit(() => _snapshot = Load());
    }

    private ImmutableList<CatalogFiling> Load() =>
        [.. _filings.All().Select(d => JsonSerializer.Deserialize<CatalogFiling>(d.Json, CatalogJson.Options)!).OrderBy(f => f.ReceivedAt).ThenBy(f => f.Id, StringComparer.Ordinal)];

    internal sealed class FilingDocument
    {
        [BsonId(autoId: false)]
        public string Id { get; set; } = "";

        public string Child { get; set; } = "";

        public string Json { get; set; } = "";
    }
}

/// <summary>The <c>diff</c> of a filing's record: <c>received</c>, <c>approved</c> or <c>sent-back</c>, and the filing after it. Never rename a property.</summary>
public sealed record FilingRecord(string Action, CatalogFiling Filing);

/// <summary>Redoes logged filings and their reviews (their part of the change-log replay).</summary>
public sealed class CatalogFilingReplayer(CatalogFilings filings) : IStateReplayer
{
    public string EntityPrefix => CatalogFilings.EntityPrefix;

    public bool Replay(StateRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (System.Text.Json.JsonSerializer.Deserialize<FilingRecord>(record.Diff, CatalogJson.Options) is not { Filing: { } filing })
        {
            return false;
        }

        filings.Apply(filing);
        return true;
    }
}
