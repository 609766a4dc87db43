using System.Text.Json;
using GovShare.Node.Catalog;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Requests;

/// <summary>
/// Keeps grants in step with the catalog (Art. 10, 25): wraps the catalog's change sink, through
/// which every catalog write passes inside its transaction, and suspends the active grants a
/// change takes the ground from — the resource retired or made not shared, a granted item
/// removed or made not shareable. The suspension commits or rolls back with the catalog write.
/// </summary>
public sealed partial class GrantReconciler(ICatalogChangeSink inner, GrantStore grants, RequestLedger ledger, ILogger<GrantReconciler> logger) : ICatalogChangeSink
{
    public CatalogChange Append(CatalogChange change)
    {
        var stored = inner.Append(change);
        if (Affected(stored) is { } affected)
        {
            Suspend(stored, affected);
        }

        return stored;
    }

    public IReadOnlyList<CatalogChange> Read(long afterSequence, int limit, string? resourceCode = null) =>
        inner.Read(afterSequence, limit, resourceCode);

    /// <summary>What a change withdraws: every item (<c>All</c>) or some items by id, and why; null when nothing.</summary>
    public static (bool All, IReadOnlySet<string> Items, string Reason)? Affected(CatalogChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        if (change.Kind == ChangeKind.Retired)
        {
            return (true, new HashSet<string>(), $"the provider retired resource {change.ResourceCode}");
        }

        // A change of share attributes applies when the office approves it (Art. 17), so that change, not the report, suspends grants.
        if (change.Kind is not (ChangeKind.Updated or ChangeKind.ReviewApproved))
        {
            return null;
        }

        if (change.Fields.FirstOrDefault(f => f.Path == "share") is { After: { } after } && NotShared(after, out var reason))
        {
            return (true, new HashSet<string>(), $"resource {change.ResourceCode} is no longer shared: {reason}");
        }

        var removed = change.Items.Where(i => i.Kind == ItemChangeKind.Removed).Select(i => i.ItemId).ToList();
        var unshared = change.Items
            .Where(i => i.Kind == ItemChangeKind.Modified && i.Fields.Any(f => f.Path == "shareable" && f.After == "false"))
            .Select(i => i.ItemId).ToList();
        if (removed.Count + unshared.Count == 0)
        {
            return null;
        }

        var parts = new List<string>();
        if (removed.Count > 0)
        {
            parts.Add($"item(s) {string.Join(", ", removed)} removed");
        }

        if (unshared.Count > 0)
        {
            parts.Add($"item(s) {string.Join(", ", unshared)} no longer shared");
        }

        return (false, new HashSet<string>(removed.Concat(unshared), StringComparer.Ordinal), $"resource {change.ResourceCode}: {string.Join("; ", parts)} by the provider");
    }

    private void Suspend(CatalogChange change, (bool All, IReadOnlySet<string> Items, string Reason) affected)
    {
        var suspended = ledger.Write(() =>
        {
            var count = 0;
            foreach (var grant in grants.ForResource(change.ResourceCode))
            {
                if (grant.Status == GrantStatus.Active && (affected.All || grant.Items.Any(i => affected.Items.Contains(i.ItemId))))
                {
                    var held = grant with { Status = GrantStatus.Suspended, StatusReason = affected.Reason, StatusChangedAt = change.At };
                    grants.Save(held);
                    ledger.Record(RequestSubject.Grant, held, grant.Id, grant.ResourceCode, grant.Status, GrantStatus.Suspended, change.By, change.At, $"catalog change {change.Sequence}");
                    count++;
                }
            }

            return count;
        });
        if (suspended > 0)
        {
            Log.Suspended(logger, suspended, change.ResourceCode, change.Sequence);
        }
    }

    private static bool NotShared(string shareJson, out string? reason)
    {
        reason = null;
        try
        {
            using var doc = JsonDocument.Parse(shareJson);
            if (doc.RootElement.TryGetProperty("type", out var type) && type.GetString() == "notShared")
            {
                reason = doc.RootElement.TryGetProperty("reason", out var r) ? r.GetString() : null;
                return true;
            }
        }
        catch (JsonException)
        {
            // A change record the catalog wrote is JSON; anything else withdraws nothing.
        }

        return false;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5010, EventName = "GrantsSuspended", Level = LogLevel.Warning, Message = "{Count} grant(s) on {ResourceCode} suspended by catalog change {Sequence}")]
        public static partial void Suspended(ILogger logger, int count, string resourceCode, long sequence);
    }
}
