namespace GovShare.Node.Exchange;

/// <summary>Limits of the exchange endpoints (section <c>Exchange</c>).</summary>
public sealed class ExchangeOptions
{
    public const string Section = "Exchange";

    /// <summary>The largest push body. Pushes stream to disk, so this bounds disk use, not memory.</summary>
    public long MaxPushBytes { get; set; } = 8L * 1024 * 1024 * 1024;

    /// <summary>
    /// Pushes in progress at once; each may hold one record batch (up to the Arrow input cap) in
    /// memory, so this bounds the node's memory under a burst. Further pushes get 503 with Retry-After.
    /// </summary>
    public int MaxConcurrentPushes { get; set; } = 4;

    /// <summary>The most rows a pull answers as JSON or CSV; larger results must be pulled as Arrow.</summary>
    public long MaxTextRows { get; set; } = 100_000;

    /// <summary>Dataset versions kept per resource.</summary>
    public int KeepVersions { get; set; } = 5;
}
