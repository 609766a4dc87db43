using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Requests;

namespace GovShare.Node.Exchange.Pull;

/// <summary>One item a pull may deliver, with its masking for this user.</summary>
public sealed record AllowedItem(InformationItem Item, MaskingRule Masking);

/// <summary>The decision on a pull: the items it delivers, or why it is refused.</summary>
public sealed record PullDecision(IReadOnlyList<AllowedItem>? Items, Grant? Grant, int Status, string? ProblemType, string? Title, string? Detail)
{
    public bool Allowed => Items is not null;

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

        if (requested.Count == 0)
        {
            return PullDecision.Allow(allowed!, grant);
        }

        var byId = allowed!.ToDictionary(a => a.Item.Id, StringComparer.Ordinal);
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
            : PullDecision.Allow(chosen, grant);
    }

    private static List<AllowedItem>? AllowedItems(CatalogEntry entry, CallerIdentity user, string purpose, GrantStore grants, DateTimeOffset now, out Grant? grant, out PullDecision? refusal)
    {
        grant = null;
        refusal = null;
        if (entry.Provider.SameAs(user.DivisionCode, user.CreditCode))
        {
            // The source department sees its own data as it pushed it.
            return entry.Items.Select(i => new AllowedItem(i, MaskingRule.None)).ToList();
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
                return entry.Items.Where(i => i.Shareable).Select(i => new AllowedItem(i, i.Masking ?? MaskingRule.None)).ToList();
        }

        grant = grants.Effective(user.CreditCode ?? "", entry.ResourceCode, purpose, now);
        if (grant is null || grant.UserDivision != user.DivisionCode)
        {
            var others = grants.For(user.CreditCode ?? "", entry.ResourceCode).Where(g => g.IsEffective(now) && g.UserDivision == user.DivisionCode).ToList();
            refusal = others.Count > 0
                ? PullDecision.Refuse(403, ProblemTypes.PurposeMismatch, "The purpose is not the grant's", $"Your grant on {entry.ResourceCode} is for purpose {string.Join(", ", others.Select(g => $"'{g.Purpose}'"))}, not '{purpose}' (Art. 32: data is used only for the stated purpose).")
                : PullDecision.Refuse(403, ProblemTypes.NoGrant, "No grant for this conditional resource", $"{entry.ResourceCode} is shared on condition ({entry.Share.Condition}); apply for it with a share request.");
            grant = null;
            return null;
        }

        // Items the catalog has since removed or made unshareable drop out even if the grant lists them.
        var items = entry.Items.Where(i => i.Shareable).ToDictionary(i => i.Id, StringComparer.Ordinal);
        return grant.Items.Where(g => items.ContainsKey(g.ItemId)).Select(g => new AllowedItem(items[g.ItemId], g.Masking)).ToList();
    }
}
