namespace GovShare.Node.Catalog;

/// <summary>What a department other than the provider may see of an entry.</summary>
public static class CatalogViews
{
    /// <summary>
    /// The sharing-catalog view (Art. 10): items marked not shareable are left out; a
    /// not-shared resource keeps its name, share type and reason but shows no items and no
    /// thematic references.
    /// </summary>
    public static CatalogEntry ForSharing(CatalogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return entry.Share.Type == ShareType.NotShared
            ? entry with { Items = [], Thematic = null }
            : entry with { Items = [.. entry.Items.Where(i => i.Shareable)] };
    }
}
