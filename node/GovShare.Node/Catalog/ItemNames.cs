using System.Globalization;
using System.Text;
using GovShare.Contract;

namespace GovShare.Node.Catalog;

/// <summary>
/// Canonical form of item names and ids, used wherever two spellings must meet: duplicate
/// names in an entry, duplicate collection across departments (Art. 13), and resolving the
/// columns a pull asks for. NFKC (full-width → ASCII, compatibility ideographs → unified),
/// format characters (zero-width space, BOM, joiners) removed, whitespace runs collapsed and
/// trimmed, then invariant lower case.
/// </summary>
public static class ItemNames
{
    public static string Canonical(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "";
        }

        var normalised = text.Normalize(NormalizationForm.FormKC);
        var builder = new StringBuilder(normalised.Length);
        var pendingSpace = false;
        Span<char> lower = stackalloc char[2];
        foreach (var rune in normalised.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            if (category == UnicodeCategory.Format)
            {
                continue;
            }

            if (Rune.IsWhiteSpace(rune))
            {
                pendingSpace = builder.Length > 0;
                continue;
            }

            if (pendingSpace)
            {
                builder.Append(' ');
                pendingSpace = false;
            }

            // The rune's UTF-16 straight into the builder: a pull resolves each requested item
            // through here, and a string per character was a visible share of its allocations.
            builder.Append(lower[..Rune.ToLowerInvariant(rune).EncodeToUtf16(lower)]);
        }

        return builder.ToString();
    }

    /// <summary>The duplicate-collection key: canonical name and canonical data type.</summary>
    public static string CollectionKey(InformationItem item)
    {
        ArgumentNullException.ThrowIfNull(item);
        var type = ItemDataType.TryParse(item.DataType, out var t) ? t.ToString() : item.DataType;
        return Canonical(item.Name) + "\u001f" + type;
    }
}
