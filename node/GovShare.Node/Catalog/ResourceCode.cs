using System.Diagnostics.CodeAnalysis;

namespace GovShare.Node.Catalog;

/// <summary>
/// The resource code grammar (信息资源代码), ASCII digits only:
/// <code>
/// resource-code  = classification "/" sequence          ; e.g. 101002001/000017
/// classification = class item entry [sub-entry]        ; 6 to 12 digits
/// class     = "1" / "2" / "3"                           ; base / thematic / departmental
/// item      = 2DIGIT
/// entry     = 3DIGIT
/// sub-entry = 1*6DIGIT                                  ; variable length, at most 6
/// sequence  = 6DIGIT                                    ; the provider's running number
/// </code>
/// In a URL the <c>/</c> becomes <c>-</c> (<see cref="ToUrl"/>): <c>/v1/catalog/101002001-000017</c>.
/// </summary>
public static class ResourceCode
{
    public const int MinClassificationLength = 6;
    public const int MaxClassificationLength = 12;
    public const int SequenceLength = 6;
    public const int MaxLength = MaxClassificationLength + 1 + SequenceLength;

    /// <summary>
    /// True for a well-formed resource code: the rules of <see cref="Check"/> (a test holds them equal),
    /// without its list and substrings, since every exchange asks twice (node routing, then the endpoint).
    /// </summary>
    public static bool IsValid([NotNullWhen(true)] string? code)
    {
        if (string.IsNullOrEmpty(code) || code.Length > MaxLength)
        {
            return false;
        }

        var slash = code.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || code.IndexOf('/', slash + 1) >= 0)
        {
            return false;
        }

        var classification = code.AsSpan(0, slash);
        var sequence = code.AsSpan(slash + 1);
        return classification.Length is >= MinClassificationLength and <= MaxClassificationLength
            && classification[0] is '1' or '2' or '3'
            && !classification.ContainsAnyExceptInRange('0', '9')
            && sequence.Length == SequenceLength
            && !sequence.ContainsAnyExceptInRange('0', '9');
    }

    /// <summary>Every defect of a code as (error code, message); empty when well-formed.</summary>
    public static IReadOnlyList<(string Code, string Message)> Check(string? code)
    {
        var errors = new List<(string, string)>();
        if (string.IsNullOrEmpty(code))
        {
            errors.Add(("required", "the resource code is required"));
            return errors;
        }

        if (code.Length > MaxLength)
        {
            errors.Add(("resourceCode.tooLong", $"the resource code has {code.Length} characters; at most {MaxLength}"));
            return errors;
        }

        var slash = code.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || code.IndexOf('/', slash + 1) >= 0)
        {
            errors.Add(("resourceCode.format", "the resource code is <classification>/<sequence>, with exactly one '/'"));
            return errors;
        }

        var classification = code[..slash];
        var sequence = code[(slash + 1)..];
        if (!classification.All(char.IsAsciiDigit))
        {
            errors.Add(("resourceCode.classificationDigits", "the classification code has characters other than the digits 0-9"));
        }
        else
        {
            if (classification.Length is < MinClassificationLength or > MaxClassificationLength)
            {
                errors.Add(("resourceCode.classificationLength", $"the classification code has {classification.Length} digits; class (1) + item (2) + entry (3) + sub-entry (0-6) is 6 to 12"));
            }

            if (classification.Length > 0 && classification[0] is not ('1' or '2' or '3'))
            {
                errors.Add(("resourceCode.class", "the class digit must be 1 (base), 2 (thematic) or 3 (departmental)"));
            }
        }

        if (!sequence.All(char.IsAsciiDigit))
        {
            errors.Add(("resourceCode.sequenceDigits", "the sequence code has characters other than the digits 0-9"));
        }
        else if (sequence.Length != SequenceLength)
        {
            errors.Add(("resourceCode.sequenceLength", $"the sequence code has {sequence.Length} digits; it must have {SequenceLength}"));
        }

        return errors;
    }

    /// <summary>The classification part, or "" for a code without one.</summary>
    public static string ClassificationOf(string? code)
    {
        var slash = code?.IndexOf('/', StringComparison.Ordinal) ?? -1;
        return slash > 0 ? code![..slash] : "";
    }

    /// <summary>The category of the class digit; null when the code does not start with 1, 2 or 3.</summary>
    public static ResourceCategory? CategoryOf(string? code) => code is { Length: > 0 } && code[0] is >= '1' and <= '3'
        ? (ResourceCategory)(code[0] - '0')
        : null;

    /// <summary>The URL form: <c>/</c> replaced by <c>-</c>.</summary>
    public static string ToUrl(string code)
    {
        ArgumentNullException.ThrowIfNull(code);
        return code.Replace('/', '-');
    }

    /// <summary>Reads the URL form back; false when the result is not a valid code (so <c>..</c>, <c>%2F</c> and the like never reach the store).</summary>
    public static bool TryFromUrl(string? segment, [NotNullWhen(true)] out string? code)
    {
        code = null;
        if (segment is null || segment.Length > MaxLength)
        {
            return false;
        }

        var dash = segment.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0 || segment.IndexOf('-', dash + 1) >= 0)
        {
            return false;
        }

        var candidate = string.Concat(segment.AsSpan(0, dash), "/", segment.AsSpan(dash + 1));
        if (!IsValid(candidate))
        {
            return false;
        }

        code = candidate;
        return true;
    }
}
