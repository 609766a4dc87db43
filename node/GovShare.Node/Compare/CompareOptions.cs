namespace GovShare.Node.Compare;

/// <summary>Limits of the comparison endpoint (section <c>Compare</c>).</summary>
public sealed class CompareOptions
{
    public const string Section = "Compare";

    /// <summary>
    /// The in-memory join table's budget per comparison; past it the join spills partitions to
    /// disk (a grace hash join), so a comparison's memory stays near this whatever the sizes.
    /// 256 MiB holds about 2.5 million rows of an 18-character key and two short items.
    /// </summary>
    public long MemoryBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Comparisons running at once; each may hold <see cref="MemoryBytes"/>. Beyond it, 503 with Retry-After.</summary>
    public int MaxConcurrent { get; set; } = 2;

    /// <summary>
    /// Comparisons one department may make of one resource in an hour (a sliding hour). A
    /// comparison answers whether values agree, so a stream of small comparisons would enumerate
    /// values one guess at a time: this bounds the guesses. Beyond it, 429 with Retry-After.
    /// </summary>
    public int MaxPerDepartmentPerHour { get; set; } = 30;

    /// <summary>
    /// The fewest submitted rows when a key or compared item reaches the caller only masked:
    /// answers about such items are counts over at least this many rows, never one row's value.
    /// Fewer: 422 <c>compare-too-small</c>. (Items the caller may pull unmasked have no minimum:
    /// their comparison reveals nothing a pull would not.)
    /// </summary>
    public int MinRowsWithMaskedItems { get; set; } = 100;

    /// <summary>The most keys an answer lists (differing rows, and submitted rows the resource lacks); the rest are counted.</summary>
    public int MaxListedKeys { get; set; } = 10_000;

    /// <summary>The largest submission body; defaults to the node's push cap (<c>Exchange:MaxPushBytes</c>).</summary>
    public long? MaxSubmissionBytes { get; set; }
}
