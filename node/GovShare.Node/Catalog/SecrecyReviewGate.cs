namespace GovShare.Node.Catalog;

/// <summary>
/// Art. 34: a resource is shared only after its provider's secrecy review (保密审查) is on record in
/// its catalog entry (<see cref="CatalogEntry.SecrecyReview"/>). One rule for every way a department
/// reaches another's resource — a pull, a comparison, an application for a conditional resource —
/// so none of them is a way around it. The provider is never withheld from its own resource.
/// <see cref="Required"/> is the setting <c>Exchange:SecrecyReviewRequired</c> (default true).
/// </summary>
public sealed class SecrecyReviewGate(bool required)
{
    /// <summary>Whether a resource without a secrecy review is withheld from other departments.</summary>
    public bool Required { get; } = required;

    /// <summary>Whether <paramref name="entry"/> is withheld from the department <paramref name="division"/>/<paramref name="creditCode"/>.</summary>
    public bool Withholds(CatalogEntry entry, string division, string? creditCode)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return Required && entry.SecrecyReview is null && !entry.Provider.SameAs(division, creditCode);
    }

    /// <summary>The sentence a refusal carries.</summary>
    public static string Detail(CatalogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return $"{entry.ResourceCode} is shared only after its provider records the secrecy review (保密审查, Art. 34) in its catalog entry (secrecyReview).";
    }
}
