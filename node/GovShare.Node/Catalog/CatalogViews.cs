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

    /// <summary>
    /// Whether a department of <paramref name="divisionCode"/> may see and use the entry at all (Art. 21):
    /// inside the province of its provider always; from outside it (a national department, through the
    /// national link) only when the provider set <see cref="SharingScope.National"/>. National entries
    /// (provider <c>000000</c>) are open to every division, as their share type says.
    /// </summary>
    public static bool SharedWith(CatalogEntry entry, string divisionCode)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return entry.Scope == SharingScope.National || Kernel.DivisionCode.IsWithin(divisionCode, Kernel.DivisionCode.ProvinceOf(entry.Provider.DivisionCode));
    }
}
