using System.Globalization;
using GovShare.Contract;
using GovShare.Node.Desensitisation;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;

namespace GovShare.Node.Catalog;

/// <summary>One defect of an input: where (a JSON path such as <c>items[2].dataType</c>), a stable code, and a sentence.</summary>
public sealed record CatalogValidationError(string Path, string Code, string Message);

/// <summary>Caps on an entry, so one department cannot bloat the catalog or a page of it.</summary>
public static class CatalogLimits
{
    public const int MaxNameLength = 200;
    public const int MaxAbstractLength = 4000;
    public const int MaxConditionLength = 2000;
    public const int MaxItems = 500;
    public const int MaxItemNameLength = 100;
    public const int MaxItemIdLength = 64;
    public const int MaxItemLength = 1_000_000;
    public const int MaxRelatedCodes = 50;
    public const int MaxThematicReferences = 500;
    public const int MaxDepartmentNameLength = 200;
    public const int MaxMaskingBoundaries = 64;

    /// <summary>The largest per-resource push cap a catalog entry may ask for: 64 GiB (disk, not memory: pushes stream to a file).</summary>
    public const long MaxPushBytes = 64L * 1024 * 1024 * 1024;
}

/// <summary>
/// Checks an entry on its own (the store adds the checks that need the catalog, such as
/// thematic references). Collects every error instead of stopping at the first.
/// </summary>
public static class CatalogValidator
{
    public static IReadOnlyList<CatalogValidationError> Validate(CatalogEntry? entry)
    {
        var errors = new List<CatalogValidationError>();
        if (entry is null)
        {
            errors.Add(new("", "required", "the entry is missing"));
            return errors;
        }

        foreach (var (code, message) in ResourceCode.Check(entry.ResourceCode))
        {
            errors.Add(new("resourceCode", code, message));
        }

        Text(errors, "name", entry.Name, CatalogLimits.MaxNameLength, required: true);
        Text(errors, "abstract", entry.Abstract, CatalogLimits.MaxAbstractLength, required: false);
        Provider(errors, "provider", entry.Provider);
        Defined(errors, "format", entry.Format);
        Defined(errors, "updateCycle", entry.UpdateCycle);
        if (entry.ReleaseDate == default)
        {
            errors.Add(new("releaseDate", "required", "the release date is required"));
        }

        Share(errors, entry.Share);
        Secrecy(errors, entry.SecrecyReview);
        if (entry.Open is null)
        {
            errors.Add(new("open", "required", "the open attributes are required"));
        }
        else
        {
            Text(errors, "open.condition", entry.Open.Condition, CatalogLimits.MaxConditionLength, required: false);
        }

        if (entry.MaxPushBytes is { } cap && (cap <= 0 || cap > CatalogLimits.MaxPushBytes))
        {
            errors.Add(new("maxPushBytes", "out-of-range", $"the push cap must be between 1 and {CatalogLimits.MaxPushBytes} bytes"));
        }

        Items(errors, entry);
        Related(errors, entry);
        Thematic(errors, entry);
        return errors;
    }

    private static void Text(List<CatalogValidationError> errors, string path, string? value, int max, bool required)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required)
            {
                errors.Add(new(path, "required", $"{path} is required"));
            }

            return;
        }

        if (value.Length > max)
        {
            errors.Add(new(path, "tooLong", $"{path} has {value.Length} characters; at most {max}"));
        }

        if (value.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')))
        {
            errors.Add(new(path, "controlCharacter", $"{path} contains control characters"));
        }
    }

    private static void Defined<T>(List<CatalogValidationError> errors, string path, T value)
        where T : struct, Enum
    {
        if (!Enum.IsDefined(value))
        {
            errors.Add(new(path, "unknownValue", $"{path} must be one of {string.Join(", ", Enum.GetNames<T>())}"));
        }
    }

    private static void Provider(List<CatalogValidationError> errors, string path, DepartmentRef? provider)
    {
        if (provider is null)
        {
            errors.Add(new(path, "required", "the provider department is required"));
            return;
        }

        if (!DivisionCode.IsValid(provider.DivisionCode))
        {
            errors.Add(new(path + ".divisionCode", "divisionCode.invalid", "not a GB/T 2260 division code (six digits)"));
        }

        if (!CreditCode.IsValid(provider.CreditCode))
        {
            errors.Add(new(path + ".creditCode", "creditCode.invalid", "not a unified social credit code (18 characters with a valid check character)"));
        }

        Text(errors, path + ".name", provider.Name, CatalogLimits.MaxDepartmentNameLength, required: false);
    }

    private static void Share(List<CatalogValidationError> errors, ShareAttributes? share)
    {
        if (share is null)
        {
            errors.Add(new("share", "required", "the share attributes are required"));
            return;
        }

        Defined(errors, "share.type", share.Type);
        Defined(errors, "share.method", share.Method);
        Text(errors, "share.condition", share.Condition, CatalogLimits.MaxConditionLength, required: share.Type == ShareType.Conditional);
        Text(errors, "share.reason", share.Reason, CatalogLimits.MaxConditionLength, required: share.Type == ShareType.NotShared);
    }

    private static void Secrecy(List<CatalogValidationError> errors, SecrecyReview? review)
    {
        if (review is null)
        {
            return;
        }

        if (review.ReviewedOn == default)
        {
            errors.Add(new("secrecyReview.reviewedOn", "required", "the day of the secrecy review is required"));
        }

        Text(errors, "secrecyReview.reviewer", review.Reviewer, CatalogLimits.MaxDepartmentNameLength, required: true);
        Text(errors, "secrecyReview.reference", review.Reference, CatalogLimits.MaxConditionLength, required: false);
    }

    private static void Items(List<CatalogValidationError> errors, CatalogEntry entry)
    {
        var items = entry.Items;
        if (items is null || (items.Count == 0 && entry.Category != ResourceCategory.Thematic))
        {
            errors.Add(new("items", "required", "a resource is described down to its information items: at least one is required"));
            return;
        }

        if (items.Count > CatalogLimits.MaxItems)
        {
            errors.Add(new("items", "tooMany", $"{items.Count} items; at most {CatalogLimits.MaxItems}"));
            return;
        }

        // One namespace for ids and names: a pull that names a column must reach one item only.
        var seen = new Dictionary<string, (int Index, string Field)>(StringComparer.Ordinal);
        for (var i = 0; i < items.Count; i++)
        {
            var path = $"items[{i}]";
            var item = items[i];
            if (item is null)
            {
                errors.Add(new(path, "required", "the item is missing"));
                continue;
            }

            if (string.IsNullOrEmpty(item.Id) || item.Id.Length > CatalogLimits.MaxItemIdLength
                || !char.IsAsciiLetterLower(item.Id[0]) || !item.Id.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_'))
            {
                errors.Add(new(path + ".id", "itemId.invalid", $"an item id is a lower-case ASCII letter then letters, digits or '_', at most {CatalogLimits.MaxItemIdLength}"));
            }
            else
            {
                Unique(errors, seen, ItemNames.Canonical(item.Id), i, "id");
            }

            Text(errors, path + ".name", item.Name, CatalogLimits.MaxItemNameLength, required: true);
            if (!string.IsNullOrWhiteSpace(item.Name))
            {
                var canonical = ItemNames.Canonical(item.Name);
                if (canonical != ItemNames.Canonical(item.Id))
                {
                    Unique(errors, seen, canonical, i, "name");
                }
            }

            if (!ItemDataType.TryParse(item.DataType, out var type))
            {
                errors.Add(new(path + ".dataType", "dataType.unknown", $"'{Shorten(item.DataType)}' is not an item data type; use one of {string.Join(", ", ItemDataType.Names)}"));
            }
            else if (item.Length is not null && type.Kind is not (ItemTypeKind.Utf8 or ItemTypeKind.Binary))
            {
                errors.Add(new(path + ".length", "length.notApplicable", $"a length applies to utf8 and binary items, not {type}"));
            }

            if (item.Length is < 1 or > CatalogLimits.MaxItemLength)
            {
                errors.Add(new(path + ".length", "length.outOfRange", $"the length must be 1 to {CatalogLimits.MaxItemLength}"));
            }

            if (item.Key && item.Nullable)
            {
                errors.Add(new(path + ".key", "key.nullable", $"key item '{item.Id}' must not be nullable: a row without its key cannot be matched"));
            }

            if (item.Key && type?.Kind is ItemTypeKind.Float64)
            {
                errors.Add(new(path + ".key", "key.notForType", $"key item '{item.Id}' is {type}; floating-point values do not compare reliably, use an integer, decimal, date or text key"));
            }

            Defined(errors, path + ".sensitivity", item.Sensitivity);
            if (item.Masking is not null)
            {
                Masking(errors, path + ".masking", item.Masking);
                if (type is not null && item.Masking.TypeMismatch(type.ToArrowType()) is { } mismatch)
                {
                    errors.Add(new(path + ".masking", "masking.notForType", $"item '{item.Id}': {mismatch}"));
                }
            }
        }

        void Unique(List<CatalogValidationError> errs, Dictionary<string, (int Index, string Field)> seenKeys, string key, int index, string field)
        {
            if (seenKeys.TryGetValue(key, out var first))
            {
                errs.Add(new($"items[{index}].{field}", field == "id" ? "item.duplicateId" : "item.duplicateName",
                    $"the item {field} equals the {first.Field} of items[{first.Index}] (compared after Unicode NFKC normalisation, trimming and case folding)"));
            }
            else
            {
                seenKeys[key] = (index, field);
            }
        }
    }

    private static void Masking(List<CatalogValidationError> errors, string path, MaskingRule rule)
    {
        if (!Enum.IsDefined(rule.Kind))
        {
            errors.Add(new(path + ".kind", "unknownValue", $"the masking kind must be one of {string.Join(", ", Enum.GetNames<MaskingKind>())}"));
            return;
        }

        if (rule.Kind == MaskingKind.KeepEnds && (rule.Keep < 0 || rule.KeepEnd < 0 || rule.Keep > 64 || rule.KeepEnd > 64))
        {
            errors.Add(new(path, "masking.invalid", "keep and keepEnd must be 0 to 64"));
        }

        if (rule.Kind == MaskingKind.GeneraliseDate && !Enum.IsDefined(rule.Precision))
        {
            errors.Add(new(path + ".precision", "unknownValue", "the precision must be Year or Month"));
        }

        if (rule.Kind == MaskingKind.Bucket)
        {
            var b = rule.Boundaries;
            if (b is null || b.Count == 0 || b.Count > CatalogLimits.MaxMaskingBoundaries
                || b.Any(double.IsNaN) || b.Zip(b.Skip(1)).Any(p => p.First >= p.Second))
            {
                errors.Add(new(path + ".boundaries", "masking.invalid", $"bucket boundaries must be 1 to {CatalogLimits.MaxMaskingBoundaries} numbers in strictly ascending order"));
            }
        }
    }

    private static void Related(List<CatalogValidationError> errors, CatalogEntry entry)
    {
        var related = entry.RelatedResourceCodes;
        if (related is null)
        {
            return;
        }

        if (related.Count > CatalogLimits.MaxRelatedCodes)
        {
            errors.Add(new("relatedResourceCodes", "tooMany", $"{related.Count} related codes; at most {CatalogLimits.MaxRelatedCodes}"));
            return;
        }

        for (var i = 0; i < related.Count; i++)
        {
            foreach (var (code, message) in ResourceCode.Check(related[i]))
            {
                errors.Add(new($"relatedResourceCodes[{i}]", code, message));
            }

            if (related[i] == entry.ResourceCode)
            {
                errors.Add(new($"relatedResourceCodes[{i}]", "related.self", "an entry is not related to itself"));
            }
        }
    }

    private static void Thematic(List<CatalogValidationError> errors, CatalogEntry entry)
    {
        var thematic = entry.Thematic;
        var isThematic = entry.Category == ResourceCategory.Thematic;
        if (!isThematic)
        {
            if (thematic is not null)
            {
                errors.Add(new("thematic", "thematic.notThematic", "only a thematic resource (class 2) references other resources' items"));
            }

            return;
        }

        if (thematic?.References is null || (thematic.References.Count == 0 && entry.Items is { Count: 0 }))
        {
            errors.Add(new("thematic.references", "required", "a thematic resource references items of other departments' resources or has items of its own"));
            return;
        }

        if (thematic.References.Count > CatalogLimits.MaxThematicReferences)
        {
            errors.Add(new("thematic.references", "tooMany", $"at most {CatalogLimits.MaxThematicReferences} references"));
            return;
        }

        var seen = new HashSet<(string?, string?)>();
        for (var i = 0; i < thematic.References.Count; i++)
        {
            var r = thematic.References[i];
            var path = string.Create(CultureInfo.InvariantCulture, $"thematic.references[{i}]");
            foreach (var (code, message) in ResourceCode.Check(r?.ResourceCode))
            {
                errors.Add(new(path + ".resourceCode", code, message));
            }

            if (r?.ResourceCode == entry.ResourceCode)
            {
                errors.Add(new(path + ".resourceCode", "reference.self", "a thematic resource references other resources"));
            }

            if (!seen.Add((r?.ResourceCode, r?.ItemId)))
            {
                errors.Add(new(path, "reference.duplicate", "the same item is referenced twice"));
            }
        }
    }

    internal static string Shorten(string? value) =>
        value is null ? "(null)" : value.Length <= 40 ? value : value[..40] + "…";
}
