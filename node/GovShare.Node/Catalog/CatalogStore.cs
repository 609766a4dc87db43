using System.Collections.Immutable;
using GovShare.Contract;
using GovShare.Node.Calendar;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using LiteDB;
using Microsoft.Extensions.Logging;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Catalog;

/// <summary>How a catalog write ended; the API maps each to one status and problem type.</summary>
public enum CatalogOutcome
{
    Ok,
    Created,
    Invalid,
    NotFound,
    Forbidden,

    /// <summary>The resource code is registered already (by anyone; codes are never reused).</summary>
    CodeTaken,

    /// <summary>The entry is retired and takes no more writes.</summary>
    Retired,
    PreconditionFailed,
}

/// <summary>The result of a write: the stored entry, or why nothing was written.</summary>
public sealed record CatalogWriteResult(
    CatalogOutcome Outcome,
    CatalogEntry? Entry = null,
    IReadOnlyList<CatalogValidationError>? Errors = null,
    IReadOnlyList<PossibleDuplicate>? Duplicates = null,
    string? Detail = null)
{
    public bool Succeeded => Outcome is CatalogOutcome.Ok or CatalogOutcome.Created;
}

/// <summary>The result of an import: every entry written, or nothing and all the reasons.</summary>
public sealed record CatalogImportResult(
    CatalogOutcome Outcome,
    IReadOnlyList<CatalogEntry> Entries,
    IReadOnlyList<CatalogValidationError> Errors,
    IReadOnlyList<PossibleDuplicate> Duplicates);

/// <summary>
/// A possible duplicate collection (Art. 13): an item of <see cref="ResourceCode"/> has the
/// same canonical name and type as an item another department's resource already holds.
/// </summary>
public sealed record PossibleDuplicate(
    string ResourceCode,
    string ItemId,
    string ItemName,
    string DataType,
    string Department,
    string HeldByResourceCode,
    string HeldByItemId,
    string HeldByItemName,
    string HeldByDepartment);

/// <summary>A catalog search; every filter is optional. <see cref="Department"/> is a credit code.</summary>
public sealed record CatalogQuery(
    string? Department = null,
    string? Classification = null,
    ShareType? ShareType = null,
    string? Text = null,
    int Page = 1,
    int PageSize = 50,
    bool IncludeRetired = false,
    string? ViewerDivision = null)
{
    public const int MaxPageSize = 200;
}

/// <summary>One page of results, with the total across pages.</summary>
public sealed record CatalogPage(IReadOnlyList<CatalogEntry> Entries, int Page, int PageSize, int Total);

/// <summary>Catalog deadlines as of a date: open share reviews (Art. 17) and stale entries (Art. 18).</summary>
public sealed record CatalogDeadlines(DateOnly AsOf, IReadOnlyList<ReviewDeadline> Reviews, IReadOnlyList<StaleEntry> Stale)
{
    /// <summary>Art. 11 catalog-update deadlines started by recorded duty changes (<see cref="DutyChangeRegister"/>).</summary>
    public IReadOnlyList<CatalogUpdateDeadline> CatalogUpdates { get; init; } = [];
}

/// <summary>An open share-attribute review.</summary>
public sealed record ReviewDeadline(string ResourceCode, string Name, string Department, DateOnly Due, bool Overdue, SharingScope? ProposedScope = null);

/// <summary>An entry not maintained for a year.</summary>
public sealed record StaleEntry(string ResourceCode, string Name, string Department, DateTimeOffset LastMaintained);

/// <summary>
/// The catalog in the node's LiteDB: entries (<c>catalog_entries</c>, the entry as JSON plus
/// indexed query fields), item keys for the duplicate check (<c>catalog_item_keys</c>) and the
/// change stream through <see cref="ICatalogChangeSink"/>. Every write runs under one lock in
/// one LiteDB transaction with its change record: both are written or neither.
/// </summary>
public sealed partial class CatalogStore
{
    /// <summary>Working days a share-attribute review may take (Art. 17).</summary>
    public const int ShareReviewWorkingDays = 30;

    private readonly IStateStore _state;
    private readonly IStateDocuments<EntryDocument> _entries;
    private readonly IStateDocuments<ItemKeyDocument> _itemKeys;
    private readonly ICatalogChangeSink _changes;
    private readonly WorkingDayCalendar _calendar;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // What a pull's authorisation reads: every entry by code, from memory. Replaced after each
    // committed write (StateStore.AfterCommit), so it never shows a rolled-back or half-made write.
    private volatile ImmutableDictionary<string, CatalogEntry> _snapshot;

    public CatalogStore(NodeDataFolder folder, ICatalogChangeSink changes, WorkingDayCalendar calendar, TimeProvider time, ILogger<CatalogStore> logger)
    {
        ArgumentNullException.ThrowIfNull(folder);
        _state = folder.State;
        _changes = changes;
        _calendar = calendar;
        _time = time;
        _logger = logger;
        _entries = folder.Collection<EntryDocument>("catalog_entries", d => d.Credit, d => d.Classification);
        _itemKeys = folder.Collection<ItemKeyDocument>("catalog_item_keys", d => d.Key, d => d.ResourceCode);
        _snapshot = Load();
        _state.OnChangedElsewhere(() => _snapshot = Load());
    }

    private ImmutableDictionary<string, CatalogEntry> Load() =>
        _entries.All().Select(Read).ToImmutableDictionary(e => e.ResourceCode, StringComparer.Ordinal);

    /// <summary>The stored entry, retired or not; null when unknown or the code is malformed.</summary>
    public CatalogEntry? Get(string code)
    {
        if (!ResourceCode.IsValid(code))
        {
            return null;
        }

        return _snapshot.GetValueOrDefault(code);
    }

    /// <summary>Registers a new entry of the caller's department.</summary>
    public CatalogWriteResult Create(CatalogEntry entry, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var errors = CatalogValidator.Validate(entry).ToList();
        if (errors.Count == 0)
        {
            errors.AddRange(CheckReferences(entry));
        }

        if (errors.Count > 0)
        {
            Log.Refused(_logger, "create", errors.Count);
            return new(CatalogOutcome.Invalid, Errors: errors);
        }

        if (!IsProvider(entry.Provider, caller))
        {
            Log.Forbidden(_logger, caller.Uri, entry.ResourceCode);
            return new(CatalogOutcome.Forbidden, Detail: "a department registers only its own resources: the provider must be the caller");
        }

        return _state.Write<CatalogWriteResult>(() =>
        {
            if (_snapshot.ContainsKey(entry.ResourceCode))
            {
                return new(CatalogOutcome.CodeTaken, Detail: $"the resource code {entry.ResourceCode} is already registered");
            }

            var now = _time.GetUtcNow();
            var stored = entry with { Version = 1, Status = EntryStatus.Active, CreatedAt = now, UpdatedAt = now, ShareReview = null, LastShareDecision = null };
            var duplicates = Transaction(() =>
            {
                Write(stored);
                Append(ChangeKind.Created, null, stored, caller.Uri, now);
                DepartmentWrote?.Invoke(stored.Provider, now);
                return FindDuplicates(stored);
            });
            Log.Created(_logger, stored.ResourceCode, caller.Uri, duplicates.Count);
            return new(CatalogOutcome.Created, stored, Duplicates: duplicates);
        });
    }

    /// <summary>
    /// Replaces the caller's entry if <paramref name="expectedVersion"/> is still current. Any
    /// accepted write counts as maintenance (Art. 18); a change of share attributes opens a
    /// review due in <see cref="ShareReviewWorkingDays"/> working days (Art. 17).
    /// </summary>
    public CatalogWriteResult Update(string code, CatalogEntry entry, long expectedVersion, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(caller);
        return _state.Write<CatalogWriteResult>(() =>
        {
            var current = Get(code);
            if (current is null)
            {
                return new(CatalogOutcome.NotFound, Detail: "no such resource");
            }

            if (!IsProvider(current.Provider, caller))
            {
                Log.Forbidden(_logger, caller.Uri, code);
                return new(CatalogOutcome.Forbidden, Detail: "only the provider department maintains its entry");
            }

            var errors = CatalogValidator.Validate(entry).ToList();
            if (entry.ResourceCode != code)
            {
                errors.Add(new("resourceCode", "resourceCode.mismatch", "the body's resource code differs from the URL's; a code never changes"));
            }

            if (entry.Provider is not null && !entry.Provider.SameAs(current.Provider.DivisionCode, current.Provider.CreditCode))
            {
                errors.Add(new("provider", "provider.changed", "one datum, one source: the provider of a resource does not change"));
            }

            if (errors.Count == 0)
            {
                errors.AddRange(CheckReferences(entry));
            }

            if (errors.Count > 0)
            {
                Log.Refused(_logger, "update", errors.Count);
                return new(CatalogOutcome.Invalid, Errors: errors);
            }

            if (current.Status == EntryStatus.Retired)
            {
                return new(CatalogOutcome.Retired, Detail: "the entry is retired");
            }

            if (current.Version != expectedVersion)
            {
                Log.Stale(_logger, code, expectedVersion, current.Version);
                return new(CatalogOutcome.PreconditionFailed, Detail: $"the entry is at version {current.Version}, not {expectedVersion}; read it again and reapply the change");
            }

            var (stored, duplicates) = Transaction(() => Replace(current, entry, caller.Uri));
            Log.Updated(_logger, code, caller.Uri, stored.Version);
            return new(CatalogOutcome.Ok, stored, Duplicates: duplicates);
        });
    }

    /// <summary>Retires the caller's entry: it leaves the sharing catalog; its history stays.</summary>
    public CatalogWriteResult Retire(string code, long expectedVersion, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        return _state.Write<CatalogWriteResult>(() =>
        {
            var current = Get(code);
            if (current is null)
            {
                return new(CatalogOutcome.NotFound, Detail: "no such resource");
            }

            if (!IsProvider(current.Provider, caller))
            {
                Log.Forbidden(_logger, caller.Uri, code);
                return new(CatalogOutcome.Forbidden, Detail: "only the provider department retires its entry");
            }

            if (current.Version != expectedVersion)
            {
                Log.Stale(_logger, code, expectedVersion, current.Version);
                return new(CatalogOutcome.PreconditionFailed, Detail: $"the entry is at version {current.Version}, not {expectedVersion}");
            }

            if (current.Status == EntryStatus.Retired)
            {
                return new(CatalogOutcome.Retired, Detail: "the entry is already retired");
            }

            var now = _time.GetUtcNow();
            var stored = current with { Status = EntryStatus.Retired, Version = current.Version + 1, UpdatedAt = now, ShareReview = null };
            Transaction(() =>
            {
                Write(stored);
                _changes.Append(new CatalogChange(0, code, ChangeKind.Retired, stored.Version, caller.Uri, now,
                    [new FieldChange("status", "\"active\"", "\"retired\"")], [])
                { Entry = stored });
                DepartmentWrote?.Invoke(stored.Provider, now);
                return 0;
            });
            Log.Retired(_logger, code, caller.Uri);
            return new(CatalogOutcome.Ok, stored);
        });
    }

    /// <summary>
    /// The office's decision on an entry's open share review (Art. 17): approved, the proposed
    /// terms apply now; rejected (a reason is required), the terms in force stay. Either way the
    /// review closes, the decision is kept on the entry (<see cref="CatalogEntry.LastShareDecision"/>)
    /// and logged as a <see cref="ChangeKind.ReviewApproved"/> or <see cref="ChangeKind.ReviewRejected"/> change by <paramref name="by"/>.
    /// </summary>
    public CatalogWriteResult DecideShareReview(string code, bool approve, string? reason, string by)
    {
        reason = string.IsNullOrWhiteSpace(reason) ? null : reason.Trim();
        if (!approve && reason is null)
        {
            return new(CatalogOutcome.Invalid, Errors: [new("reason", "required", "a rejection states its reason")]);
        }

        if (reason?.Length > CatalogLimits.MaxConditionLength)
        {
            return new(CatalogOutcome.Invalid, Errors: [new("reason", "tooLong", $"at most {CatalogLimits.MaxConditionLength} characters")]);
        }

        return _state.Write<CatalogWriteResult>(() =>
        {
            var current = Get(code);
            if (current?.ShareReview is not { } review || current.Status == EntryStatus.Retired)
            {
                return new(CatalogOutcome.NotFound, Detail: "no open share review for this resource");
            }

            var now = _time.GetUtcNow();
            var late = WorkingDayCalendar.ToChinaDate(now) > review.Due;
            var decision = new ShareDecision(approve, review.Proposed, by, now, review.Due, late, reason, review.Scope);
            var stored = current with
            {
                // A review opened before changes waited for approval carries no proposal: its change applied already.
                Share = approve && review.Proposed is { } proposed ? proposed : current.Share,
                // Rejected, the scope in force (province) stays: nothing was exposed beyond it meanwhile.
                Scope = approve && review.Scope is { } scope ? scope : current.Scope,
                ShareReview = null,
                LastShareDecision = decision,
                Version = current.Version + 1,
            };
            var (fields, items) = CatalogChange.Diff(current, stored);
            var recorded = fields.Append(new FieldChange("shareReview", JsonSerializer.Serialize(review, CatalogJson.Options), null))
                .Append(new FieldChange("lastShareDecision", null, JsonSerializer.Serialize(decision, CatalogJson.Options)))
                .ToList();
            Transaction(() =>
            {
                Write(stored);
                _changes.Append(new CatalogChange(0, code, approve ? ChangeKind.ReviewApproved : ChangeKind.ReviewRejected, stored.Version, by, now, recorded, items) { Entry = stored });
                return 0;
            });
            Log.ReviewDecided(_logger, code, approve ? "approved" : "rejected", by, late);
            return new(CatalogOutcome.Ok, stored);
        });
    }

    /// <summary>
    /// Imports a department's catalog: new codes are created, the caller's existing ones
    /// replaced when the imported <see cref="CatalogEntry.Version"/> is the stored one (an export
    /// carries it). All or nothing: any error and nothing is written.
    /// </summary>
    public CatalogImportResult Import(IReadOnlyList<CatalogEntry> entries, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(caller);
        return _state.Write<CatalogImportResult>(() =>
        {
            var errors = new List<CatalogValidationError>();
            var codes = new HashSet<string>(StringComparer.Ordinal);
            var plan = new List<(CatalogEntry Entry, CatalogEntry? Current)>();
            for (var i = 0; i < entries.Count; i++)
            {
                var prefix = $"entries[{i}]";
                var entry = entries[i];
                var entryErrors = CatalogValidator.Validate(entry);
                errors.AddRange(entryErrors.Select(e => e with { Path = e.Path.Length == 0 ? prefix : $"{prefix}.{e.Path}" }));
                if (entry is null || entryErrors.Count > 0)
                {
                    continue;
                }

                if (!codes.Add(entry.ResourceCode))
                {
                    errors.Add(new(prefix + ".resourceCode", "resourceCode.duplicate", "the resource code appears twice in the import"));
                }

                if (!IsProvider(entry.Provider, caller))
                {
                    errors.Add(new(prefix + ".provider", "provider.notCaller", "a department imports only its own resources"));
                    continue;
                }

                var current = Get(entry.ResourceCode);
                if (current is not null)
                {
                    if (!IsProvider(current.Provider, caller))
                    {
                        errors.Add(new(prefix + ".resourceCode", "resourceCode.taken", "the code is registered by another department"));
                    }
                    else if (current.Version != entry.Version)
                    {
                        errors.Add(new(prefix + ".version", "version.stale", $"the entry is at version {current.Version}, the import carries {entry.Version}"));
                    }
                    else if (current.Status == EntryStatus.Retired)
                    {
                        errors.Add(new(prefix, "entry.retired", "the entry is retired"));
                    }
                }

                plan.Add((entry, current));
            }

            if (errors.Count == 0)
            {
                var importing = plan.Select(p => p.Entry.ResourceCode).ToHashSet(StringComparer.Ordinal);
                for (var i = 0; i < plan.Count; i++)
                {
                    var index = i;
                    errors.AddRange(CheckReferences(plan[i].Entry, importing)
                        .Select(e => e with { Path = $"entries[{index}].{e.Path}" }));
                }
            }

            if (errors.Count > 0)
            {
                Log.Refused(_logger, "import", errors.Count);
                return new(CatalogOutcome.Invalid, [], errors, []);
            }

            var written = new List<CatalogEntry>();
            var duplicates = new List<PossibleDuplicate>();
            Transaction(() =>
            {
                foreach (var (entry, current) in plan)
                {
                    if (current is null)
                    {
                        var now = _time.GetUtcNow();
                        var stored = entry with { Version = 1, Status = EntryStatus.Active, CreatedAt = now, UpdatedAt = now, ShareReview = null, LastShareDecision = null };
                        Write(stored);
                        Append(ChangeKind.Created, null, stored, caller.Uri, now);
                        DepartmentWrote?.Invoke(stored.Provider, now);
                        written.Add(stored);
                    }
                    else
                    {
                        written.Add(Replace(current, entry, caller.Uri).Stored);
                    }
                }

                foreach (var entry in written)
                {
                    duplicates.AddRange(FindDuplicates(entry));
                }

                return 0;
            });
            Log.Imported(_logger, caller.Uri, written.Count);
            return new(CatalogOutcome.Ok, written, [], duplicates);
        });
    }

    /// <summary>The resource catalog: full entries, retired ones only on request.</summary>
    public CatalogPage ListResources(CatalogQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        return List(query, sharing: false);
    }

    /// <summary>
    /// The sharing catalog: active entries as another department sees them
    /// (<see cref="CatalogViews.ForSharing"/>); the text search reaches only what the view shows.
    /// </summary>
    public CatalogPage ListSharing(CatalogQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        return List(query with { IncludeRetired = false }, sharing: true);
    }

    private CatalogPage List(CatalogQuery query, bool sharing)
    {
        var page = Math.Max(1, query.Page);
        var size = Math.Clamp(query.PageSize, 1, CatalogQuery.MaxPageSize);
        var source = query.Department is null
            ? _entries.All()
            : _entries.Where(d => d.Credit, query.Department);
        var text = ItemNames.Canonical(query.Text);
        var shareType = query.ShareType?.ToString();
        var matches = source
            .Where(d => query.IncludeRetired || !d.Retired)
            .Where(d => query.Classification is null || d.Classification.StartsWith(query.Classification, StringComparison.Ordinal))
            .Where(d => shareType is null || d.ShareType == shareType)
            .Where(d => text.Length == 0 || (sharing ? d.SharingSearchText : d.SearchText).Contains(text, StringComparison.Ordinal))
            // A viewer outside the province sees only nationally scoped entries (Art. 21); read from the snapshot.
            .Where(d => query.ViewerDivision is null || (Get(d.Code) is { } entry && CatalogViews.SharedWith(entry, query.ViewerDivision)))
            .OrderBy(d => d.Code, StringComparer.Ordinal)
            .ToList();
        var entries = matches.Skip((page - 1) * size).Take(size).Select(Read)
            .Select(e => sharing ? CatalogViews.ForSharing(e) : e)
            .ToList();
        return new CatalogPage(entries, page, size, matches.Count);
    }

    /// <summary>
    /// Possible duplicate collections across the catalog (the operator's list), or those
    /// involving one department (by credit code) on either side.
    /// </summary>
    public IReadOnlyList<PossibleDuplicate> Duplicates(string? department = null)
    {
        var result = new List<PossibleDuplicate>();
        foreach (var group in _itemKeys.All().GroupBy(k => k.Key).Where(g => g.Select(k => k.Credit).Distinct().Skip(1).Any()))
        {
            var keys = group.OrderBy(k => k.ResourceCode, StringComparer.Ordinal).ToList();
            for (var i = 0; i < keys.Count; i++)
            {
                for (var j = i + 1; j < keys.Count; j++)
                {
                    if (keys[i].Credit != keys[j].Credit
                        && (department is null || keys[i].Credit == department || keys[j].Credit == department))
                    {
                        result.Add(ToDuplicate(keys[j], keys[i]));
                    }
                }
            }
        }

        return result;
    }

    /// <summary>Open share reviews and stale entries as of today (China Standard Time).</summary>
    public CatalogDeadlines Deadlines()
    {
        var now = _time.GetUtcNow();
        var today = WorkingDayCalendar.ToChinaDate(now);
        var staleBefore = now.AddYears(-1);
        var reviews = new List<ReviewDeadline>();
        var stale = new List<StaleEntry>();
        foreach (var doc in _entries.All().Where(d => !d.Retired))
        {
            var entry = Read(doc);
            if (entry.ShareReview is { } review)
            {
                reviews.Add(new ReviewDeadline(entry.ResourceCode, entry.Name, entry.Provider.Key, review.Due, review.Due < today, review.Scope));
            }

            if (entry.UpdatedAt < staleBefore)
            {
                stale.Add(new StaleEntry(entry.ResourceCode, entry.Name, entry.Provider.Key, entry.UpdatedAt));
            }
        }

        return new CatalogDeadlines(today, [.. reviews.OrderBy(r => r.Due)], [.. stale.OrderBy(s => s.LastMaintained)]);
    }

    /// <summary>The change stream after a sequence number.</summary>
    public IReadOnlyList<CatalogChange> Changes(long afterSequence, int limit, string? resourceCode = null) =>
        _changes.Read(afterSequence, limit, resourceCode);

    private (CatalogEntry Stored, IReadOnlyList<PossibleDuplicate> Duplicates) Replace(CatalogEntry current, CatalogEntry entry, string by)
    {
        var now = _time.GetUtcNow();
        var review = current.ShareReview;
        var share = entry.Share;
        var scope = entry.Scope;
        var shareChanged = !SameShare(current.Share, entry.Share);
        // Issue 24: widening to national exposes the resource beyond the province, so it waits for
        // the office like a share change; narrowing back to province withdraws exposure and
        // applies at once (holding it would keep data exposed against the provider's will).
        var widened = (current.Scope ?? SharingScope.Province) == SharingScope.Province && entry.Scope == SharingScope.National;
        if (shareChanged || widened)
        {
            // Art. 17: a change of share type or conditions (or a widening of scope) is reported to
            // the office and applies only when approved. Until then the terms in force stay (every
            // exchange reads Share and Scope); the change waits in the review. Reporting the same
            // change again keeps its review and due day; a different change replaces the proposal
            // and is due anew. A write that changes only one of the two keeps the other's proposal.
            share = current.Share;
            scope = current.Scope;
            var proposedShare = shareChanged ? entry.Share : review?.Proposed ?? current.Share;
            var proposedScope = widened ? SharingScope.National : review?.Scope;
            if (review?.Proposed is null || !SameShare(review.Proposed, proposedShare) || review.Scope != proposedScope)
            {
                // A change is never refused for want of next year's holiday file: the due date is then
                // provisional (weekends only) and says so.
                var due = _calendar.AddWorkingDays(WorkingDayCalendar.ToChinaDate(now), ShareReviewWorkingDays, out var provisional);
                review = new ShareReview(now, due, current.Share.Type, proposedShare.Type, provisional, proposedShare, proposedScope);
            }
        }

        var stored = entry with
        {
            Share = share,
            Scope = scope,
            Version = current.Version + 1,
            Status = EntryStatus.Active,
            CreatedAt = current.CreatedAt,
            UpdatedAt = now,
            ShareReview = review,
            LastShareDecision = current.LastShareDecision,
        };
        Write(stored);
        var (fields, items) = CatalogChange.Diff(current, stored);
        if (review != current.ShareReview)
        {
            // The diff leaves the store-owned review out; a change that opens or replaces one is
            // what the office acts on, so the change log says so.
            fields = [.. fields, new FieldChange("shareReview", Json(current.ShareReview), Json(review))];
        }

        _changes.Append(new CatalogChange(0, stored.ResourceCode, ChangeKind.Updated, stored.Version, by, now, fields, items) { Entry = stored });
        DepartmentWrote?.Invoke(stored.Provider, now);
        return (stored, FindDuplicates(stored));
    }

    /// <summary>
    /// Called inside the state change of every accepted write of a department's own catalog (create,
    /// update, import, retire) with the department and the time: the catalog update that meets an
    /// Art. 11 deadline (<see cref="DutyChangeRegister"/>). Not called on replay: what it records is logged on its own.
    /// </summary>
    internal event Action<DepartmentRef, DateTimeOffset>? DepartmentWrote;

    /// <summary>Every active entry (the full resource catalog, from memory).</summary>
    public IReadOnlyList<CatalogEntry> Active() => [.. _snapshot.Values.Where(e => e.Status == EntryStatus.Active).OrderBy(e => e.ResourceCode, StringComparer.Ordinal)];

    private static string? Json(ShareReview? review) => review is null ? null : JsonSerializer.Serialize(review, CatalogJson.Options);

    private static bool SameShare(ShareAttributes a, ShareAttributes b) =>
        a.Type == b.Type && a.Method == b.Method
        && string.Equals(a.Condition ?? "", b.Condition ?? "", StringComparison.Ordinal)
        && string.Equals(a.Reason ?? "", b.Reason ?? "", StringComparison.Ordinal);

    private void Append(ChangeKind kind, CatalogEntry? before, CatalogEntry after, string by, DateTimeOffset at)
    {
        var (fields, items) = CatalogChange.Diff(before, after);
        _changes.Append(new CatalogChange(0, after.ResourceCode, kind, after.Version, by, at, fields, items) { Entry = after });
    }

    // One state change: the state store's gate and transaction. The public writers run their
    // checks (expected version, provider, duplicates) inside the gate too, so a check and its
    // write are atomic across replicas as well (the gate is node-wide with PostgreSQL, which
    // also brings this replica's snapshot up to date before the check); the inner call joins.
    private T Transaction<T>(Func<T> work) => _state.Write(work);

    /// <summary>Stores an entry as it is after a change; the snapshot follows at commit. Call inside a state write.</summary>
    internal void Write(CatalogEntry entry)
    {
        _state.AfterCommit(() => _snapshot = _snapshot.SetItem(entry.ResourceCode, entry));
        var sharing = CatalogViews.ForSharing(entry);
        _entries.Put(new EntryDocument
        {
            Code = entry.ResourceCode,
            Division = entry.Provider.DivisionCode,
            Credit = entry.Provider.CreditCode,
            Classification = entry.ClassificationCode,
            ShareType = entry.Share.Type.ToString(),
            Retired = entry.Status == EntryStatus.Retired,
            SearchText = SearchText(entry),
            SharingSearchText = SearchText(sharing),
            Json = JsonSerializer.Serialize(entry, CatalogJson.Options),
        });

        _itemKeys.DeleteWhere(k => k.ResourceCode, entry.ResourceCode);
        if (entry.Status == EntryStatus.Active)
        {
            _itemKeys.PutMany(entry.Items.Select(i => new ItemKeyDocument
            {
                Id = entry.ResourceCode + "#" + i.Id,
                Key = ItemNames.CollectionKey(i),
                ResourceCode = entry.ResourceCode,
                Credit = entry.Provider.CreditCode,
                Department = entry.Provider.Key,
                ItemId = i.Id,
                ItemName = i.Name,
                DataType = ItemDataType.Parse(i.DataType).ToString(),
            }));
        }
    }

    private static string SearchText(CatalogEntry entry) =>
        string.Join('\n', [ItemNames.Canonical(entry.Name), ItemNames.Canonical(entry.Abstract), .. entry.Items.Select(i => ItemNames.Canonical(i.Name))]);

    private List<PossibleDuplicate> FindDuplicates(CatalogEntry entry)
    {
        var result = new List<PossibleDuplicate>();
        foreach (var item in entry.Items)
        {
            var key = ItemNames.CollectionKey(item);
            foreach (var held in _itemKeys.Where(k => k.Key, key))
            {
                if (held.Credit != entry.Provider.CreditCode)
                {
                    result.Add(new PossibleDuplicate(entry.ResourceCode, item.Id, item.Name, ItemDataType.Parse(item.DataType).ToString(), entry.Provider.Key,
                        held.ResourceCode, held.ItemId, held.ItemName, held.Department));
                }
            }
        }

        if (result.Count > 0)
        {
            Log.PossibleDuplicate(_logger, entry.ResourceCode, result.Count);
        }

        return result;
    }

    private static PossibleDuplicate ToDuplicate(ItemKeyDocument registering, ItemKeyDocument holder) =>
        new(registering.ResourceCode, registering.ItemId, registering.ItemName, registering.DataType, registering.Department,
            holder.ResourceCode, holder.ItemId, holder.ItemName, holder.Department);

    private List<CatalogValidationError> CheckReferences(CatalogEntry entry, HashSet<string>? importing = null)
    {
        var errors = new List<CatalogValidationError>();
        var references = entry.Thematic?.References ?? [];
        for (var i = 0; i < references.Count; i++)
        {
            var path = $"thematic.references[{i}]";
            var target = Get(references[i].ResourceCode);
            if (target is null || target.Status == EntryStatus.Retired)
            {
                if (importing?.Contains(references[i].ResourceCode) != true)
                {
                    errors.Add(new(path + ".resourceCode", "reference.unknownResource", "no active resource has this code"));
                }
            }
            else if (target.Items.All(t => t.Id != references[i].ItemId))
            {
                errors.Add(new(path + ".itemId", "reference.unknownItem", "the referenced resource has no item with this id"));
            }
        }

        return errors;
    }

    private static bool IsProvider(DepartmentRef provider, CallerIdentity caller) =>
        caller.Kind == CallerKind.Department && provider.SameAs(caller.DivisionCode, caller.CreditCode);

    private static CatalogEntry Read(EntryDocument doc) =>
        JsonSerializer.Deserialize<CatalogEntry>(doc.Json, CatalogJson.Options)
        ?? throw new InvalidDataException($"catalog entry {doc.Code} is unreadable");

    internal sealed class EntryDocument
    {
        [BsonId(autoId: false)]
        public string Code { get; set; } = "";

        public string Division { get; set; } = "";

        public string Credit { get; set; } = "";

        public string Classification { get; set; } = "";

        public string ShareType { get; set; } = "";

        public bool Retired { get; set; }

        public string SearchText { get; set; } = "";

        public string SharingSearchText { get; set; } = "";

        public string Json { get; set; } = "";
    }

    internal sealed class ItemKeyDocument
    {
        [BsonId(autoId: false)]
        public string Id { get; set; } = "";

        public string Key { get; set; } = "";

        public string ResourceCode { get; set; } = "";

        public string Credit { get; set; } = "";

        public string Department { get; set; } = "";

        public string ItemId { get; set; } = "";

        public string ItemName { get; set; } = "";

        public string DataType { get; set; } = "";
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3000, EventName = "CatalogEntryCreated", Level = LogLevel.Information, Message = "Catalog entry {ResourceCode} created by {Caller} ({Duplicates} possible duplicate items)")]
        public static partial void Created(ILogger logger, string resourceCode, string caller, int duplicates);

        [LoggerMessage(EventId = 3001, EventName = "CatalogEntryUpdated", Level = LogLevel.Information, Message = "Catalog entry {ResourceCode} updated by {Caller} to version {Version}")]
        public static partial void Updated(ILogger logger, string resourceCode, string caller, long version);

        [LoggerMessage(EventId = 3002, EventName = "CatalogEntryRetired", Level = LogLevel.Information, Message = "Catalog entry {ResourceCode} retired by {Caller}")]
        public static partial void Retired(ILogger logger, string resourceCode, string caller);

        [LoggerMessage(EventId = 3003, EventName = "CatalogWriteInvalid", Level = LogLevel.Debug, Message = "Catalog {Operation} refused: {ErrorCount} validation errors")]
        public static partial void Refused(ILogger logger, string operation, int errorCount);

        [LoggerMessage(EventId = 3004, EventName = "CatalogWriteStale", Level = LogLevel.Debug, Message = "Catalog update of {ResourceCode} refused: expected version {Expected}, current {Current}")]
        public static partial void Stale(ILogger logger, string resourceCode, long expected, long current);

        [LoggerMessage(EventId = 3005, EventName = "CatalogWriteForbidden", Level = LogLevel.Debug, Message = "Catalog write by {Caller} to {ResourceCode} refused: not the provider")]
        public static partial void Forbidden(ILogger logger, string caller, string resourceCode);

        [LoggerMessage(EventId = 3006, EventName = "CatalogDuplicateCollection", Level = LogLevel.Warning, Message = "Catalog entry {ResourceCode} has {Count} items another department's resource already holds (possible duplicate collection)")]
        public static partial void PossibleDuplicate(ILogger logger, string resourceCode, int count);

        [LoggerMessage(EventId = 3008, EventName = "CatalogShareReviewDecided", Level = LogLevel.Information, Message = "Share review of {ResourceCode} {Decision} by {By} (late: {Late})")]
        public static partial void ReviewDecided(ILogger logger, string resourceCode, string decision, string by, bool late);

        [LoggerMessage(EventId = 3007, EventName = "CatalogImported", Level = LogLevel.Information, Message = "Catalog import by {Caller}: {Count} entries written")]
        public static partial void Imported(ILogger logger, string caller, int count);
    }
}
