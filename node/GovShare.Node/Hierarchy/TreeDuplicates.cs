using GovShare.Contract;
using GovShare.Node.Catalog;

namespace GovShare.Node.Hierarchy;

/// <summary>One holder of a datum: which node's catalog, which department, which resource and item.</summary>
public sealed record DatumHolder(string Node, DepartmentRef Department, string ResourceCode, string ItemId, string ItemName, bool Designated);

/// <summary>
/// A datum collected by more than one department somewhere in the tree (Art. 13): its holders,
/// the collecting department the office designated (null: none yet), and whether the holders are
/// settled — one designated collector among them, so the others are to obtain it by sharing.
/// </summary>
public sealed record TreeDuplicate(string ItemName, string DataType, IReadOnlyList<DatumHolder> Holders, CollectorDesignation? Designation, bool Undesignated);

/// <summary>
/// The duplicate-collection check across the whole tree below this node: its own resource catalog
/// (every active entry, all items) and the sharing catalogs its children published (the aggregate:
/// what a child shares, since the items it does not share never leave it). The catalog's own
/// check (<see cref="CatalogStore.Duplicates"/>) sees one node only.
/// </summary>
public static class TreeDuplicates
{
    public static IReadOnlyList<TreeDuplicate> Find(CatalogStore catalog, CatalogAggregate aggregate, CollectorDesignations designations, string self)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(aggregate);
        ArgumentNullException.ThrowIfNull(designations);
        var entries = catalog.Active().Select(e => (Node: self, Entry: e))
            .Concat(aggregate.All().Where(a => a.Entry.Status == EntryStatus.Active).Select(a => (Node: a.OwnerNode, a.Entry)));
        var holders = new Dictionary<string, List<(string Node, CatalogEntry Entry, InformationItem Item)>>(StringComparer.Ordinal);
        foreach (var (node, entry) in entries)
        {
            foreach (var item in entry.Items)
            {
                var key = ItemNames.CollectionKey(item);
                if (!holders.TryGetValue(key, out var list))
                {
                    holders[key] = list = [];
                }

                list.Add((node, entry, item));
            }
        }

        var result = new List<TreeDuplicate>();
        foreach (var (key, list) in holders.OrderBy(h => h.Key, StringComparer.Ordinal))
        {
            if (list.Select(h => h.Entry.Provider.Key).Distinct(StringComparer.Ordinal).Count() < 2)
            {
                continue;
            }

            var designation = designations.Find(key);
            var held = list
                .Select(h => new DatumHolder(h.Node, h.Entry.Provider, h.Entry.ResourceCode, h.Item.Id, h.Item.Name,
                    designation is not null && h.Entry.Provider.SameAs(designation.Collector.DivisionCode, designation.Collector.CreditCode)))
                .OrderBy(h => h.Node, StringComparer.Ordinal).ThenBy(h => h.ResourceCode, StringComparer.Ordinal)
                .ToList();
            var first = list[0].Item;
            result.Add(new TreeDuplicate(first.Name, ItemDataType.TryParse(first.DataType, out var type) ? type.ToString() : first.DataType, held, designation, designation is null));
        }

        return result;
    }
}
