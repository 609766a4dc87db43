using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using GovShare.Node.Kernel;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Catalog;

/// <summary>What happened to an entry.</summary>
public enum ChangeKind
{
    Created,
    Updated,
    Retired,
    /// <summary>A review closed without a decision (written by releases before reviews were decided).</summary>
    ReviewCompleted,

    /// <summary>The office approved a share-attribute change: the proposed terms now apply (Art. 17).</summary>
    ReviewApproved,

    /// <summary>The office rejected a share-attribute change, with its reason: the terms in force stay.</summary>
    ReviewRejected,
}

/// <summary>How an item changed.</summary>
public enum ItemChangeKind
{
    Added,
    Removed,
    Modified,
}

/// <summary>One field's change, values as JSON text (null when absent on that side).</summary>
public sealed record FieldChange(string Path, string? Before, string? After);

/// <summary>One item's change, by stable item id; <see cref="Fields"/> lists the item's changed fields.</summary>
public sealed record ItemChange(string ItemId, ItemChangeKind Kind, IReadOnlyList<FieldChange> Fields);

/// <summary>
/// A change record of the catalog (Art. 28 change log): who changed which entry when, and a
/// field- and item-level diff. <see cref="Sequence"/> orders the stream, gap-free, from 1.
/// </summary>
public sealed record CatalogChange(
    long Sequence,
    string ResourceCode,
    ChangeKind Kind,
    long Version,
    string By,
    DateTimeOffset At,
    IReadOnlyList<FieldChange> Fields,
    IReadOnlyList<ItemChange> Items)
{
    /// <summary>
    /// The entry as stored by this change (its after-image): not part of the change stream, but
    /// written to the change log so that a replay can set the entry exactly as it was acknowledged.
    /// </summary>
    [JsonIgnore]
    public CatalogEntry? Entry { get; init; }

    private static readonly HashSet<string> StoreOwned =
        ["items", "version", "status", "createdAt", "updatedAt", "shareReview", "lastShareDecision", "classificationCode", "category"];

    /// <summary>The diff from <paramref name="before"/> (null on create) to <paramref name="after"/>.</summary>
    public static (IReadOnlyList<FieldChange> Fields, IReadOnlyList<ItemChange> Items) Diff(CatalogEntry? before, CatalogEntry after)
    {
        ArgumentNullException.ThrowIfNull(after);
        var b = before is null ? new JsonObject() : JsonSerializer.SerializeToNode(before, CatalogJson.Options)!.AsObject();
        var a = JsonSerializer.SerializeToNode(after, CatalogJson.Options)!.AsObject();
        var fields = DiffObject(b, a, "", StoreOwned);

        var items = new List<ItemChange>();
        var beforeItems = (before?.Items ?? []).ToDictionary(i => i.Id, StringComparer.Ordinal);
        var afterIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in after.Items)
        {
            afterIds.Add(item.Id);
            var itemAfter = JsonSerializer.SerializeToNode(item, CatalogJson.Options)!.AsObject();
            if (!beforeItems.TryGetValue(item.Id, out var old))
            {
                items.Add(new ItemChange(item.Id, ItemChangeKind.Added, DiffObject(new JsonObject(), itemAfter, "", [])));
                continue;
            }

            var changed = DiffObject(JsonSerializer.SerializeToNode(old, CatalogJson.Options)!.AsObject(), itemAfter, "", []);
            if (changed.Count > 0)
            {
                items.Add(new ItemChange(item.Id, ItemChangeKind.Modified, changed));
            }
        }

        foreach (var old in before?.Items ?? [])
        {
            if (!afterIds.Contains(old.Id))
            {
                items.Add(new ItemChange(old.Id, ItemChangeKind.Removed, []));
            }
        }

        return (fields, items);
    }

    private static List<FieldChange> DiffObject(JsonObject before, JsonObject after, string prefix, HashSet<string> skip)
    {
        var changes = new List<FieldChange>();
        foreach (var name in before.Select(p => p.Key).Union(after.Select(p => p.Key)).Where(n => !skip.Contains(n)))
        {
            before.TryGetPropertyValue(name, out var x);
            after.TryGetPropertyValue(name, out var y);
            if (!JsonNode.DeepEquals(x, y))
            {
                changes.Add(new FieldChange(prefix + name, x?.ToJsonString(CatalogJson.Options), y?.ToJsonString(CatalogJson.Options)));
            }
        }

        return changes;
    }
}

/// <summary>
/// Where catalog change records go. The store calls <see cref="Append"/> inside its LiteDB
/// transaction, so a sink writing to the same database commits or rolls back with the entry.
/// The LiteDB sink is today's; the logs feature will provide the hash-chained one.
/// </summary>
public interface ICatalogChangeSink
{
    /// <summary>Appends a change; the returned record carries its assigned <see cref="CatalogChange.Sequence"/>.</summary>
    CatalogChange Append(CatalogChange change);

    /// <summary>Changes after <paramref name="afterSequence"/>, ascending, at most <paramref name="limit"/>; optionally of one resource only.</summary>
    IReadOnlyList<CatalogChange> Read(long afterSequence, int limit, string? resourceCode = null);
}

/// <summary>The change stream as the <c>catalog_changes</c> collection of the node's state, keyed by sequence.</summary>
public sealed class StateCatalogChangeSink : ICatalogChangeSink
{
    internal const string CollectionName = "catalog_changes";
    private readonly IStateDocuments<ChangeDocument> _changes;

    public StateCatalogChangeSink(NodeDataFolder data)
    {
        ArgumentNullException.ThrowIfNull(data);
        _changes = data.Collection<ChangeDocument>(CollectionName, d => d.ResourceCode);
    }

    public CatalogChange Append(CatalogChange change)
    {
        ArgumentNullException.ThrowIfNull(change);

        // The caller holds the state's gate (across replicas with PostgreSQL), so max+1 is gap-free and unique.
        var stored = change with { Sequence = _changes.MaxKey() + 1 };
        _changes.Put(new ChangeDocument
        {
            Sequence = stored.Sequence,
            ResourceCode = stored.ResourceCode,
            Json = JsonSerializer.Serialize(stored, CatalogJson.Options),
        });
        return stored;
    }

    /// <summary>Puts back a change the database lost, under its own sequence (the change-log replay).</summary>
    internal void Restore(CatalogChange change) => _changes.Put(new ChangeDocument
    {
        Sequence = change.Sequence,
        ResourceCode = change.ResourceCode,
        Json = JsonSerializer.Serialize(change, CatalogJson.Options),
    });

    public IReadOnlyList<CatalogChange> Read(long afterSequence, int limit, string? resourceCode = null)
    {
        return _changes.After(afterSequence, Math.Clamp(limit, 1, 10_000), resourceCode is null ? null : d => d.ResourceCode, resourceCode)
            .Select(d => JsonSerializer.Deserialize<CatalogChange>(d.Json, CatalogJson.Options)!)
            .ToList();
    }

    internal sealed class ChangeDocument
    {
        [BsonId(autoId: false)]
        public long Sequence { get; set; }

        public string ResourceCode { get; set; } = "";

        public string Json { get; set; } = "";
    }
}
