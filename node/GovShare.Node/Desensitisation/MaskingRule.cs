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
    Year,
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
}
