using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Requests;
using Microsoft.Extensions.Primitives;

namespace GovShare.Node.Exchange.Pull;

/// <summary>One item a pull may deliver, with its masking for this user.</summary>
public sealed record AllowedItem(InformationItem Item, MaskingRule Masking);

/// <summary>The decision on a pull: the items it delivers, or why it is refused.</summary>
public sealed record PullDecision(IReadOnlyList<AllowedItem>? Items, Grant? Grant, int Status, string? ProblemType, string? Title, string? Detail)
{
    public bool Allowed => Items is not null;

    /// <summary>The delivered items' ids, in order (empty for a refusal).</summary>
    public IReadOnlyList<string> ItemIds { get; init; } = Items is null ? [] : [.. Items.Select(i => i.Item.Id)];

    /// <summary>
    /// Answer-cache keys of this decision by representation, when it is a remembered decision
    /// (every allowed item, or the items a request named); null otherwise: the caller builds the key.
    /// </summary>
    public AnswerKeys? Keys { get; init; }

    /// <summary>Whether the request named its items (an answer-cache key and a missing item's refusal depend on it).</summary>
    public bool ItemsNamed { get; init; }

    public static PullDecision Allow(IReadOnlyList<AllowedItem> items, Grant? grant) => new(items, grant, 200, null, null, null);

    public static PullDecision Refuse(int status, string type, string title, string detail) => new(null, null, status, type, title, detail);
}

/// <summary>
/// Who may see which information items of a resource (Art. 10, 25, 32): the share type decides,
/// a conditional resource needs the user's effective grant for the stated purpose, and named
/// items are canonicalised to item ids before they are checked, so no spelling of a name slips past.
/// </summary>
public static class PullAuthorisation
{
    /// <summary>Decides a pull of <paramref name="requested"/> items (none: every allowed item).</summary>
    public static PullDecision Decide(CatalogEntry entry, CallerIdentity user, string purpose, IReadOnlyList<string> requested, GrantStore grants, DateTimeOffset now)
    {
        var allowed = AllowedItems(entry, user, purpose, grants, now, out var grant, out var refusal);
        if (refusal is not null)
        {
            return refusal;
        }

        return Choose(entry, purpose, requested, allowed!, grant);
    }

    /// <summary>
    /// Decides a pull of the items a request names in its <c>items</c> query values (names or ids,
    /// comma-separated; none: every allowed item). The same values against the same allowed
    /// decision always choose the same items, so an allowed choice is remembered on that decision
    /// (itself remembered on the entry and grant snapshots, so a catalog or grant change starts
    /// afresh), with its answer-cache keys: a client that names its items, as the department tool
    /// does, parses and checks them once, not per pull. A refusal is decided anew each time.
    /// </summary>
    public static PullDecision Decide(CatalogEntry entry, CallerIdentity user, string purpose, StringValues items, GrantStore grants, DateTimeOffset now)
    {
        var allowed = AllowedItems(entry, user, purpose, grants, now, out var grant, out var refusal);
        if (refusal is not null)
        {
            return refusal;
        }

        if (items.Count != 1 || items[0] is not { } named)
        {
            return Choose(entry, purpose, Requested(items), allowed!, grant);
        }

        var choices = NamedMemos.GetValue(allowed!, static _ => new ConcurrentDictionary<string, PullDecision>(StringComparer.Ordinal));
        if (choices.TryGetValue(named, out var chosen))
        {
            return chosen;
        }

        var decision = Choose(entry, purpose, Requested(items), allowed!, grant);
        // Bounded: a caller sending ever new spellings is decided each time, never remembered without end.
        if (decision.Allowed && choices.Count < MaxNamedChoices)
        {
            if (decision.ItemsNamed)
            {
                decision = decision with { Keys = new AnswerKeys(decision.Items!, itemsNamed: true) };
            }

            choices.TryAdd(named, decision);
        }

        return decision;
    }

    /// <summary>The spellings of named items a decision remembers; past it, a request is decided each time.</summary>
    internal const int MaxNamedChoices = 32;

    /// <summary>The item names of a request's <c>items</c> values: comma-separated, trimmed, empty ones dropped.</summary>
    public static List<string> Requested(StringValues items)
    {
        var names = new List<string>();
        foreach (var value in items)
        {
            foreach (var name in (value ?? "").Split(','))
            {
                if (name.Trim() is { Length: > 0 } trimmed)
                {
                    names.Add(trimmed);
                }
            }
        }

        return names;
    }

    /// <summary>Every allowed item when none is named, else the named ones (or the refusal naming those not granted).</summary>
    private static PullDecision Choose(CatalogEntry entry, string purpose, IReadOnlyList<string> requested, PullDecision allowed, Grant? grant) =>
        requested.Count == 0 ? allowed : Named(entry, purpose, requested, allowed, grant);

    private static PullDecision Named(CatalogEntry entry, string purpose, IReadOnlyList<string> requested, PullDecision allowed, Grant? grant)
    {
        var byId = allowed.Items!.ToDictionary(a => a.Item.Id, StringComparer.Ordinal);
        var unknown = new List<string>();
        var refused = new List<string>();
        var chosen = new List<AllowedItem>();
        foreach (var name in requested)
        {
            var item = entry.ResolveItem(name);
            if (item is null)
            {
                unknown.Add(name);
            }
            else if (!byId.TryGetValue(item.Id, out var permitted))
            {
                refused.Add($"{name} ({item.Id})");
            }
            else if (!chosen.Contains(permitted))
            {
                chosen.Add(permitted);
            }
        }

        if (unknown.Count > 0)
        {
            return PullDecision.Refuse(400, ProblemTypes.UnknownItem, "Unknown information items", $"The resource {entry.ResourceCode} has no item named {string.Join(", ", unknown)}.");
        }

        return refused.Count > 0
            ? PullDecision.Refuse(403, ProblemTypes.ItemNotGranted, "Information items outside what you may see", $"Not granted to you for purpose '{purpose}': {string.Join(", ", refused)}.")
            : PullDecision.Allow(chosen, grant) with { ItemsNamed = true };
    }

    /// <summary>
    /// The decision for every item this caller may see, or null with <paramref name="refusal"/>.
    /// What does not depend on the request is remembered on the snapshot objects it was made from:
    /// the catalog entry (the provider's own view, an unconditional resource's items) and the
    /// effective grant with the entry (a conditional resource). A changed entry or grant is a new
    /// object (the stores replace, never mutate, them), so a memo can never outlive what it was
    /// made from. Everything that can change per request still runs per request: which grant is
    /// effective now (revoked, suspended, expired), whose it is, and the province scope.
    /// </summary>
    private static PullDecision? AllowedItems(CatalogEntry entry, CallerIdentity user, string purpose, GrantStore grants, DateTimeOffset now, out Grant? grant, out PullDecision? refusal)
    {
        grant = null;
        refusal = null;
        var memo = EntryMemos.GetValue(entry, static _ => new EntryMemo());
        if (entry.Provider.SameAs(user.DivisionCode, user.CreditCode))
        {
            // The source department sees its own data as it pushed it.
            return memo.Own ??= Allow(OwnItems(entry), null);
        }

        // Art. 21: a resource leaves its province (to the national node and the departments it vouches
        // for) only when its provider set the national scope; the owning node decides, like the grant.
        if (!CatalogViews.SharedWith(entry, user.DivisionCode))
        {
            refusal = PullDecision.Refuse(403, ProblemTypes.NotSharedNationally, "The resource is not shared beyond its province", $"{entry.ResourceCode} is shared within province {DivisionCode.ProvinceOf(entry.Provider.DivisionCode)} only; {user.Uri} is outside it. Its provider exposes it nationally by setting the catalog entry's scope to 'national'.");
            return null;
        }

        switch (entry.Share.Type)
        {
            case ShareType.NotShared:
                refusal = PullDecision.Refuse(403, ProblemTypes.NotShared, "The resource is not shared", $"{entry.ResourceCode} is not shared: {entry.Share.Reason}");
                return null;
            case ShareType.Unconditional:
                return memo.Unconditional ??= Allow(UnconditionalItems(entry), null);
        }

        grant = grants.Effective(user.CreditCode ?? "", entry.ResourceCode, purpose, now);
        if (grant is null || grant.UserDivision != user.DivisionCode)
        {
            refusal = NoGrant(entry, user, purpose, grants, now);
            grant = null;
            return null;
        }

        // One grant is read against one entry at a time; another entry snapshot replaces the memo.
        var granted = GrantMemos.GetValue(grant, static _ => new GrantMemo());
        if (Volatile.Read(ref granted.Decided) is { } decided && ReferenceEquals(decided.Entry, entry))
        {
            return decided.Decision;
        }

        var decision = Allow(GrantedItems(entry, grant), grant);
        Volatile.Write(ref granted.Decided, new GrantDecision(entry, decision));
        return decision;
    }

    /// <summary>
    /// The refusal of a conditional resource's pull without an effective grant for its purpose. Its own
    /// method: the lambdas' captured parameters made an object on every call of the method they are in.
    /// </summary>
    private static PullDecision NoGrant(CatalogEntry entry, CallerIdentity user, string purpose, GrantStore grants, DateTimeOffset now)
    {
        var others = grants.For(user.CreditCode ?? "", entry.ResourceCode).Where(g => g.IsEffective(now) && g.UserDivision == user.DivisionCode).ToList();
        return others.Count > 0
            ? PullDecision.Refuse(403, ProblemTypes.PurposeMismatch, "The purpose is not the grant's", $"Your grant on {entry.ResourceCode} is for purpose {string.Join(", ", others.Select(g => $"'{g.Purpose}'"))}, not '{purpose}' (Art. 32: data is used only for the stated purpose).")
            : PullDecision.Refuse(403, ProblemTypes.NoGrant, "No grant for this conditional resource", $"{entry.ResourceCode} is shared on condition ({entry.Share.Condition}); apply for it with a share request.");
    }

    private static readonly ConditionalWeakTable<CatalogEntry, EntryMemo> EntryMemos = [];
    private static readonly ConditionalWeakTable<Grant, GrantMemo> GrantMemos = [];

    /// <summary>The allowed choices of named items, by the request's <c>items</c> value, of each remembered decision.</summary>
    private static readonly ConditionalWeakTable<PullDecision, ConcurrentDictionary<string, PullDecision>> NamedMemos = [];

    private static PullDecision Allow(List<AllowedItem> items, Grant? grant) => PullDecision.Allow(items, grant) with { Keys = new AnswerKeys(items) };

    private static List<AllowedItem> OwnItems(CatalogEntry entry) => [.. entry.Items.Select(i => new AllowedItem(i, MaskingRule.None))];

    private static List<AllowedItem> UnconditionalItems(CatalogEntry entry) => [.. entry.Items.Where(i => i.Shareable).Select(i => new AllowedItem(i, i.Masking ?? MaskingRule.None))];

    private static List<AllowedItem> GrantedItems(CatalogEntry entry, Grant grant)
    {
        // Items the catalog has since removed or made unshareable drop out even if the grant lists them.
        var items = entry.Items.Where(i => i.Shareable).ToDictionary(i => i.Id, StringComparer.Ordinal);
        return [.. grant.Items.Where(g => items.ContainsKey(g.ItemId)).Select(g => new AllowedItem(items[g.ItemId], g.Masking))];
    }

    private sealed class EntryMemo
    {
        public PullDecision? Own;
        public PullDecision? Unconditional;
    }

    private sealed class GrantMemo
    {
        public GrantDecision? Decided;
    }

    private sealed record GrantDecision(CatalogEntry Entry, PullDecision Decision);
}

/// <summary>The answer-cache keys of one remembered decision (every allowed item, or the items a request named), made once per representation.</summary>
public sealed class AnswerKeys(IReadOnlyList<AllowedItem> items, bool itemsNamed = false)
{
    private readonly ConcurrentDictionary<string, string> _byRepresentation = new(StringComparer.Ordinal);

    public string For(string representation) =>
        _byRepresentation.TryGetValue(representation, out var key) ? key : _byRepresentation.GetOrAdd(representation, r => PullAnswerCache.Key(r, itemsNamed, items));
}
