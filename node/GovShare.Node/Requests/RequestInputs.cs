using System.Text.RegularExpressions;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;

namespace GovShare.Node.Requests;

/// <summary>A share request as the user submits it; every member is checked and all defects reported.</summary>
public sealed record ShareApplication(
    string? ResourceCode,
    IReadOnlyList<string>? Items,
    RequestPurpose? Purpose,
    string? LegalBasis,
    UsePeriod? Period,
    RequestContact? Contact);

/// <summary>One item a provider grants (by id or name), with its masking; null masking takes the catalog's default.</summary>
public sealed record DecidedItem(string? Item, MaskingRule? Masking = null);

/// <summary>
/// A provider's decision as submitted. Approve: optional items (default: all requested, catalog
/// masking), optional validity (default: the requested period). Deny: reason code and text.
/// </summary>
public sealed record DecisionInput(
    DecisionOutcome? Outcome,
    IReadOnlyList<DecidedItem>? Items = null,
    UsePeriod? Validity = null,
    string? ReasonCode = null,
    string? ReasonText = null);

/// <summary>Why a provider revokes a grant; the text is mandatory.</summary>
public sealed record RevocationInput(string? ReasonCode, string? ReasonText);

/// <summary>A grant the operator records directly, e.g. from a decision taken on paper.</summary>
public sealed record OperatorGrantInput(
    DepartmentRef? User,
    string? ResourceCode,
    IReadOnlyList<DecidedItem>? Items,
    string? Purpose,
    UsePeriod? Validity,
    string? Decision);

/// <summary>A dispute as the user raises it; an inconsistency case (kind <c>inconsistent</c>) also names its comparison (<see cref="ComparisonId"/>, the comparison's exchange id).</summary>
public sealed record DisputeInput(
    string? ResourceCode,
    string? DataVersion,
    DisputeKind? Kind,
    IReadOnlyList<string>? RowKeys,
    IReadOnlyList<string>? Items,
    string? Description,
    string? ComparisonId = null);

/// <summary>A provider's answer: corrected (with the correcting data version) or rejected (with a reason).</summary>
public sealed record DisputeAnswerInput(DisputeStatus? Outcome, string? CorrectingVersion, string? Reason);

/// <summary>Caps and checks shared by the request, grant and dispute inputs; each adds to a list, never stops early.</summary>
internal static partial class RequestChecks
{
    public const int MaxItems = 500;
    public const int MaxText = 2000;
    public const int MaxShort = 200;
    public const int MaxRowKeys = 1000;
    public const int MaxPeriodDays = 5 * 366;

    /// <summary>Purpose and reason codes travel in headers and URLs: short ASCII.</summary>
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex CodePattern();

    [GeneratedRegex(@"^[0-9+\-() ]{3,40}$", RegexOptions.CultureInvariant)]
    private static partial Regex PhonePattern();

    public static void Code(List<CatalogValidationError> errors, string path, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add(new(path, "required", "a code is required"));
        }
        else if (!CodePattern().IsMatch(value))
        {
            errors.Add(new(path, "code.format", "a code is 1 to 64 of A-Z, a-z, 0-9, '.', '_', '-', starting with a letter or digit"));
        }
    }

    public static void Text(List<CatalogValidationError> errors, string path, string? value, int max = MaxText)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            errors.Add(new(path, "required", "a text is required"));
        }
        else if (value.Length > max)
        {
            errors.Add(new(path, "tooLong", $"{value.Length} characters; at most {max}"));
        }
    }

    public static void Contact(List<CatalogValidationError> errors, RequestContact? contact)
    {
        if (contact is null)
        {
            errors.Add(new("contact", "required", "a contact (name, phone) is required"));
            return;
        }

        Text(errors, "contact.name", contact.Name, MaxShort);
        if (string.IsNullOrWhiteSpace(contact.Phone) || !PhonePattern().IsMatch(contact.Phone))
        {
            errors.Add(new("contact.phone", "phone.format", "a phone number of 3 to 40 digits, spaces, '+', '-', '(' or ')'"));
        }

        if (contact.Email is not null && (contact.Email.Length > MaxShort || !contact.Email.Contains('@', StringComparison.Ordinal)))
        {
            errors.Add(new("contact.email", "email.format", "not an e-mail address"));
        }
    }

    /// <summary>A period of use or validity: both ends, in order, not over, at most five years.</summary>
    public static void Period(List<CatalogValidationError> errors, string path, UsePeriod? period, DateOnly today, bool required = true)
    {
        if (period is null)
        {
            if (required)
            {
                errors.Add(new(path, "required", "a period {from, to} is required"));
            }

            return;
        }

        if (period.From == default || period.To == default)
        {
            errors.Add(new(path, "required", "both from and to are required (ISO dates)"));
            return;
        }

        if (period.To < period.From)
        {
            errors.Add(new(path + ".to", "period.reversed", "the period ends before it starts"));
        }
        else if (period.To.DayNumber - period.From.DayNumber > MaxPeriodDays)
        {
            errors.Add(new(path + ".to", "period.tooLong", "at most five years"));
        }

        if (period.To < today)
        {
            errors.Add(new(path + ".to", "period.past", $"the period ended before today ({today:yyyy-MM-dd})"));
        }
    }

    /// <summary>The same parameter checks the catalog applies to an item's default masking.</summary>
    public static void Masking(List<CatalogValidationError> errors, string path, MaskingRule rule)
    {
        if (!Enum.IsDefined(rule.Kind))
        {
            errors.Add(new(path + ".kind", "unknownValue", $"the masking kind must be one of {string.Join(", ", Enum.GetNames<MaskingKind>())}"));
            return;
        }

        var bad = rule.Kind switch
        {
            MaskingKind.KeepEnds => rule.Keep is < 0 or > 64 || rule.KeepEnd is < 0 or > 64 ? "keep and keepEnd must be 0 to 64" : null,
            MaskingKind.GeneraliseDate => Enum.IsDefined(rule.Precision) ? null : "the precision must be Year or Month",
            MaskingKind.Bucket => rule.Boundaries is not { Count: > 0 and <= CatalogLimits.MaxMaskingBoundaries } b || b.Any(double.IsNaN) || b.Zip(b.Skip(1)).Any(p => p.First >= p.Second)
                ? $"bucket boundaries must be 1 to {CatalogLimits.MaxMaskingBoundaries} numbers in strictly ascending order"
                : null,
            _ => null,
        };
        if (bad is not null)
        {
            errors.Add(new(path, "masking.invalid", bad));
        }
    }

    /// <summary>
    /// Resolves decided items against what the provider shares now and, when
    /// <paramref name="allowed"/> is given, against what was requested. Null masking takes the item's default.
    /// </summary>
    public static List<GrantedItem> GrantedItems(List<CatalogValidationError> errors, IReadOnlyList<DecidedItem> items, CatalogEntry sharing, IReadOnlyCollection<string>? allowed)
    {
        var granted = new List<GrantedItem>();
        if (items.Count > MaxItems)
        {
            errors.Add(new("items", "tooMany", $"{items.Count} items; at most {MaxItems}"));
            return granted;
        }

        for (var i = 0; i < items.Count; i++)
        {
            var path = $"items[{i}]";
            if (items[i]?.Item is not { } name || string.IsNullOrWhiteSpace(name))
            {
                errors.Add(new(path + ".item", "required", "the item's id or name is required"));
                continue;
            }

            var item = sharing.ResolveItem(name);
            if (item is null)
            {
                errors.Add(new(path + ".item", "item.unknown", $"resource {sharing.ResourceCode} shares no item '{Shorten(name)}'"));
                continue;
            }

            if (allowed is not null && !allowed.Contains(item.Id))
            {
                errors.Add(new(path + ".item", "item.notRequested", $"item '{item.Id}' was not requested; a decision grants at most what was asked"));
                continue;
            }

            if (granted.Any(g => g.ItemId == item.Id))
            {
                errors.Add(new(path + ".item", "item.duplicate", $"item '{item.Id}' is listed twice"));
                continue;
            }

            var masking = items[i].Masking ?? item.Masking ?? MaskingRule.None;
            Masking(errors, path + ".masking", masking);
            if (ItemDataType.TryParse(item.DataType, out var type) && masking.TypeMismatch(type.ToArrowType()) is { } mismatch)
            {
                errors.Add(new(path + ".masking", "masking.notForType", $"item '{item.Id}': {mismatch}"));
            }

            granted.Add(new GrantedItem(item.Id, masking));
        }

        if (items.Count == 0)
        {
            errors.Add(new("items", "required", "at least one item"));
        }

        return granted;
    }

    /// <summary>Names from a request body may be anything: keep error texts short.</summary>
    public static string Shorten(string value) => value.Length <= 64 ? value : value[..64] + "…";

    /// <summary>The first instant of a China date, and the first instant after its last day.</summary>
    public static DateTimeOffset StartOf(DateOnly day) => new(day.ToDateTime(TimeOnly.MinValue), Calendar.WorkingDayCalendar.ChinaStandardTime);
}
