using System.Text.Json.Serialization;

namespace GovShare.Node.Desensitisation;

/// <summary>How an information item is desensitised (脱敏) before it leaves the node (Art. 26).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<MaskingKind>))]
public enum MaskingKind
{
    /// <summary>Delivered as stored.</summary>
    None,

    /// <summary>Keep the first <c>Keep</c> and last <c>KeepEnd</c> characters, the rest become <c>*</c>: <c>530102********1234</c>.</summary>
    KeepEnds,

    /// <summary>Every value becomes null.</summary>
    Redact,

    /// <summary>A keyed HMAC per user department: links within one department's data, never across departments.</summary>
    Pseudonym,

    /// <summary>A date or timestamp generalised to its year or month (<c>Precision</c>).</summary>
    GeneraliseDate,

    /// <summary>A number replaced by the range it falls in (<c>Boundaries</c>, ascending).</summary>
    Bucket,
}

/// <summary>Precision kept by <see cref="MaskingKind.GeneraliseDate"/>.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DatePrecision>))]
public enum DatePrecision
{
    /// <summary><c>1990</c>.</summary>
    Year,

    /// <summary><c>1990-01</c>.</summary>
    Month,
}

/// <summary>
/// One item's masking rule, as data: stored in the catalog (an item's default), in a grant
/// (per item, decided by the provider) and applied by the exchange column by column.
/// Only the parameters of its <see cref="Kind"/> are read.
/// </summary>
public sealed record MaskingRule(
    MaskingKind Kind,
    int Keep = 0,
    int KeepEnd = 0,
    DatePrecision Precision = DatePrecision.Year,
    IReadOnlyList<double>? Boundaries = null)
{
    public static readonly MaskingRule None = new(MaskingKind.None);
    public static readonly MaskingRule Redact = new(MaskingKind.Redact);
    public static readonly MaskingRule Pseudonym = new(MaskingKind.Pseudonym);

    public static MaskingRule KeepEnds(int keep, int keepEnd) => new(MaskingKind.KeepEnds, keep, keepEnd);

    public static MaskingRule GeneraliseDate(DatePrecision precision) => new(MaskingKind.GeneraliseDate, Precision: precision);

    public static MaskingRule Bucket(params double[] boundaries) => new(MaskingKind.Bucket, Boundaries: boundaries);

    /// <summary>Most characters <see cref="MaskingKind.KeepEnds"/> may keep at either end.</summary>
    public const int MaxKept = 64;

    /// <summary>Most boundaries of a <see cref="MaskingKind.Bucket"/> rule.</summary>
    public const int MaxBoundaries = 64;

    /// <summary>Every problem with this rule's parameters (empty when valid), independent of the item's type.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Enum.IsDefined(Kind))
        {
            errors.Add($"Unknown masking kind {(int)Kind}.");
        }

        if (Kind == MaskingKind.KeepEnds)
        {
            if (Keep is < 0 or > MaxKept)
            {
                errors.Add($"KeepEnds: Keep must be 0..{MaxKept}, not {Keep}.");
            }

            if (KeepEnd is < 0 or > MaxKept)
            {
                errors.Add($"KeepEnds: KeepEnd must be 0..{MaxKept}, not {KeepEnd}.");
            }
        }

        if (Kind == MaskingKind.GeneraliseDate && !Enum.IsDefined(Precision))
        {
            errors.Add($"GeneraliseDate: unknown precision {(int)Precision}.");
        }

        if (Kind == MaskingKind.Bucket)
        {
            if (Boundaries is not { Count: > 0 and <= MaxBoundaries })
            {
                errors.Add($"Bucket: 1 to {MaxBoundaries} boundaries are needed.");
            }
            else
            {
                for (var i = 0; i < Boundaries.Count; i++)
                {
                    if (!double.IsFinite(Boundaries[i]))
                    {
                        errors.Add($"Bucket: boundary {i} is not a finite number.");
                    }
                    else if (i > 0 && !(Boundaries[i] > Boundaries[i - 1]))
                    {
                        errors.Add($"Bucket: boundaries must be strictly ascending; boundary {i} is not above boundary {i - 1}.");
                    }
                }
            }
        }

        return errors;
    }

    /// <summary>
    /// Null when this rule can mask items of <paramref name="itemType"/>, else why not: checked when
    /// a catalog entry or a grant is written, so no pull ever meets a rule its item cannot take.
    /// </summary>
    public string? TypeMismatch(Apache.Arrow.Types.IArrowType itemType)
    {
        ArgumentNullException.ThrowIfNull(itemType);
        if (!Enum.IsDefined(Kind) || ColumnMasker.OutputTypeOf(Kind, itemType) is not null)
        {
            return null;
        }

        var fits = Kind switch
        {
            MaskingKind.KeepEnds => "utf8, int32 and int64",
            MaskingKind.Pseudonym => "utf8, binary, int32 and int64",
            MaskingKind.GeneraliseDate => "date32, timestamp and utf8",
            MaskingKind.Bucket => "int32, int64 and float64",
            _ => "no type",
        };
        return $"the masking rule {Kind} is not defined for {itemType.Name} items; it masks {fits} items";
    }

    // Records compare lists by reference; a rule is a value, so compare the boundaries' contents.
    public bool Equals(MaskingRule? other) =>
        other is not null
        && Kind == other.Kind
        && Keep == other.Keep
        && KeepEnd == other.KeepEnd
        && Precision == other.Precision
        && (Boundaries ?? []).SequenceEqual(other.Boundaries ?? []);

    public override int GetHashCode() => HashCode.Combine(Kind, Keep, KeepEnd, Precision, Boundaries?.Count ?? 0);
}
