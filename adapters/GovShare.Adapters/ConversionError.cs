namespace GovShare.Adapters;

/// <summary>
/// A source value that does not convert to its item's type. <see cref="Row"/> is the 1-based data
/// row (the header is not counted; a spreadsheet shows it one row lower, under its header).
/// </summary>
public sealed record ConversionError(long Row, string Column, string Value, string Message)
{
    /// <summary>Longest value shown back: enough to find it, never a whole pasted document.</summary>
    public const int MaxValueLength = 40;

    public static ConversionError Create(long row, string column, string? value, string message) =>
        new(row, column, Truncate(value ?? ""), message);

    public override string ToString() => $"row {Row:N0}, column '{Column}': {Message} (value '{Value}')";

    private static string Truncate(string value) =>
        value.Length <= MaxValueLength ? value : string.Concat(value.AsSpan(0, MaxValueLength), "…");
}

/// <summary>
/// The source had rows that do not convert; nothing was produced. Holds the first
/// <see cref="ConversionErrors.MaxListed"/> errors and the count of all of them.
/// </summary>
public sealed class ConversionFailedException(IReadOnlyList<ConversionError> errors, long total)
    : Exception(Describe(errors, total))
{
    public IReadOnlyList<ConversionError> Errors { get; } = errors;

    /// <summary>All errors found, including those not listed.</summary>
    public long Total { get; } = total;

    private static string Describe(IReadOnlyList<ConversionError> errors, long total)
    {
        var lines = new List<string> { $"{total:N0} value(s) do not convert; nothing was produced:" };
        lines.AddRange(errors.Select(e => "  - " + e));
        if (total > errors.Count)
        {
            lines.Add($"  … and {total - errors.Count:N0} more.");
        }

        return string.Join(Environment.NewLine, lines);
    }
}

/// <summary>Collects the conversion errors of one pass over a source.</summary>
public sealed class ConversionErrors
{
    public const int MaxListed = 100;
    private readonly List<ConversionError> _listed = [];

    public long Total { get; private set; }

    public bool Any => Total > 0;

    public void Add(ConversionError error)
    {
        Total++;
        if (_listed.Count < MaxListed)
        {
            _listed.Add(error);
        }
    }

    public void ThrowIfAny()
    {
        if (Total > 0)
        {
            throw new ConversionFailedException(_listed.ToArray(), Total);
        }
    }
}
