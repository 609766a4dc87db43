using GovShare.Node.Catalog;
using GovShare.Node.Kernel;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Hierarchy;

/// <summary>A sharing-catalog entry of the subtree, with the node that owns it.</summary>
public sealed record AggregatedEntry(string OwnerNode, CatalogEntry Entry);

/// <summary>What a child publishes: its whole subtree's sharing catalog.</summary>
public sealed record CatalogPublication(IReadOnlyList<AggregatedEntry> Entries);

/// <summary>
/// The sharing catalogs of this node's subtree, as its children last published them (Art. 12,
/// 19): each entry with its owning node, so discovery across jurisdictions and routing down to
/// the owner both read it. A child's publication replaces everything that child published before.
/// </summary>
public sealed class CatalogAggregate
{
    /// <summary>The most entries one publication may carry.</summary>
    public const int MaxEntries = 100_000;

    private readonly IStateDocuments<AggregateRecord> _records;
    private readonly IStateStore _state;

    public CatalogAggregate(NodeDataFolder data)
    {
        ArgumentNullException.ThrowIfNull(data);
        _state = data.State;
        _records = data.Collection<AggregateRecord>("catalog_aggregate", r => r.ResourceCode, r => r.Child);
    }

    /// <summary>Replaces what <paramref name="child"/> published; returns the errors instead when any entry is not of its subtree.</summary>
    public IReadOnlyList<string> Replace(string child, CatalogPublication publication)
    {
        var errors = new List<string>();
        if (publication.Entries.Count > MaxEntries)
        {
            errors.Add($"entries: {publication.Entries.Count} entries; at most {MaxEntries}.");
            return errors;
        }

        for (var i = 0; i < publication.Entries.Count; i++)
        {
            var entry = publication.Entries[i];
            if (!DivisionCode.IsWithin(entry.OwnerNode, child))
            {
                errors.Add($"entries[{i}].ownerNode: {entry.OwnerNode} is not in the subtree of node {child}.");
            }

            if (!Catalog.ResourceCode.IsValid(entry.Entry.ResourceCode))
            {
                errors.Add($"entries[{i}].entry.resourceCode: '{entry.Entry.ResourceCode}' is not a resource code.");
            }
        }

        if (errors.Count > 0)
        {
            return errors;
        }

        // One state change (not logged: the aggregate is the child's to publish again), so a
        // reader never sees the child's old entries half replaced.
        _state.Write(() =>
        {
            _records.DeleteWhere(r => r.Child, child);
            _records.PutMany(publication.Entries.Select(e => new AggregateRecord
            {
                Id = $"{e.OwnerNode}|{e.Entry.ResourceCode}",
                Child = child,
                OwnerNode = e.OwnerNode,
                ResourceCode = e.Entry.ResourceCode,
                Json = JsonSerializer.Serialize(e.Entry, CatalogJson.Options),
            }));
        });

        return errors;
    }

    /// <summary>Every entry of the subtree below this node.</summary>
    public IReadOnlyList<AggregatedEntry> All() => _records.All().Select(Read).ToList();

    /// <summary>What <paramref name="child"/> last published.</summary>
    public IReadOnlyList<AggregatedEntry> Of(string child) => _records.Where(r => r.Child, child).Select(Read).ToList();

    /// <summary>The subtree's entries with this resource code (several when two nodes use one code).</summary>
    public IReadOnlyList<AggregatedEntry> Find(string resourceCode) => _records.Where(r => r.ResourceCode, resourceCode).Select(Read).ToList();

    private static AggregatedEntry Read(AggregateRecord record) =>
        new(record.OwnerNode, JsonSerializer.Deserialize<CatalogEntry>(record.Json, CatalogJson.Options) ?? throw new InvalidDataException($"Aggregate entry {record.Id} is unreadable."));

    private sealed class AggregateRecord
    {
        [BsonId]
        public string Id { get; set; } = "";
        public string Child { get; set; } = "";
        public string OwnerNode { get; set; } = "";
        public string ResourceCode { get; set; } = "";
        public string Json { get; set; } = "";
    }
}
