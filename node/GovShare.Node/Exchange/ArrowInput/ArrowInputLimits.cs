namespace GovShare.Node.Exchange.ArrowInput;

/// <summary>
/// Caps on an Arrow IPC input, checked before the Arrow reader allocates anything. One record
/// batch body is the unit of memory: a reader holds at most one body (plus the caller's batch)
/// at a time, so <see cref="MaxBodyBytes"/> bounds the memory of a push.
/// </summary>
public sealed record ArrowInputLimits
{
    /// <summary>The defaults for a department's push.</summary>
    public static readonly ArrowInputLimits Default = new();

    /// <summary>Largest flatbuffer metadata of one message (a schema with many columns is the biggest).</summary>
    public int MaxMetadataBytes { get; init; } = 1 << 20;

    /// <summary>Largest body of one record batch.</summary>
    public long MaxBodyBytes { get; init; } = 64L << 20;

    /// <summary>Largest whole stream; null for no cap beyond the request's own length.</summary>
    public long? MaxStreamBytes { get; init; }

    /// <summary>Most columns of a schema.</summary>
    public int MaxColumns { get; init; } = 1024;

    /// <summary>Most rows of one record batch.</summary>
    public int MaxRowsPerBatch { get; init; } = 4 << 20;

    /// <summary>Deepest field nesting in a schema (a flat column has depth 1).</summary>
    public int MaxNestingDepth { get; init; } = 4;

    /// <summary>When true (the default) a stream must end with the end-of-stream marker, so a push cut at a message boundary is still refused.</summary>
    public bool RequireEndOfStreamMarker { get; init; } = true;
}
