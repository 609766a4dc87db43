namespace GovShare.Node.Exchange;

/// <summary>Limits of the exchange endpoints (section <c>Exchange</c>).</summary>
public sealed class ExchangeOptions
{
    public const string Section = "Exchange";

    /// <summary>
    /// The largest push body, unless the resource's catalog entry sets its own
    /// (<c>maxPushBytes</c>). 1 GiB: a prefecture's largest base resource replaced whole (the
    /// population register of a city of 8.5 million, about 15 items of about 100 bytes a row in
    /// Arrow, is some 0.85 GB); larger resources say so in the catalog, and incremental
    /// (<c>append</c>) pushes are far smaller. Pushes stream to disk, so this bounds disk use.
    /// </summary>
    public long MaxPushBytes { get; set; } = 1L * 1024 * 1024 * 1024;

    /// <summary>
    /// The largest merge push body (<c>mode=merge</c>), below <see cref="MaxPushBytes"/> and any
    /// catalog entry's own cap: a merge's rows and keys are held in memory while the next version is
    /// made, where other pushes stream to disk. 64 MiB: some half a million changed rows of a
    /// typical resource, far beyond an hourly sync's changes; a larger change goes as a replace.
    /// A larger body is refused with 413 before it is read.
    /// </summary>
    public long MaxMergeBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Pushes in progress at once; each may hold one record batch (up to the Arrow input cap) in
    /// memory, so this bounds the node's memory under a burst. Further pushes get 503 with Retry-After.
    /// </summary>
    public int MaxConcurrentPushes { get; set; } = 8;

    /// <summary>
    /// Pushes in progress at once for one department: its share of <see cref="MaxConcurrentPushes"/>,
    /// so that one department's slow or stalled uploads never take every slot. Further pushes of
    /// that department get 429 with Retry-After; other departments still push.
    /// </summary>
    public int MaxConcurrentPushesPerDepartment { get; set; } = 2;

    /// <summary>
    /// Withhold a resource whose catalog entry records no secrecy review (保密审查, Art. 34) from
    /// other departments: pulls and comparisons get 403 <c>secrecy-review-missing</c>, applications
    /// for it 403 as well (<see cref="Catalog.SecrecyReviewGate"/>). On by default, as the rule asks.
    /// Turn it off only in development, or for a catalog registered before entries carried the
    /// review while its departments record theirs: off, resources nobody reviewed are shared.
    /// </summary>
    public bool SecrecyReviewRequired { get; set; } = true;

    /// <summary>How far in the future a push's stated source-change time may lie (clocks differ a little).</summary>
    public TimeSpan SourceChangeClockSkew { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The most rows a pull answers as JSON or CSV; larger results must be pulled as Arrow.</summary>
    public long MaxTextRows { get; set; } = 100_000;

    /// <summary>
    /// Memory for the encoded answers of pulls of small versions (at most 64 KiB stored;
    /// <see cref="Pull.PullAnswerCache"/>), so a one-row pull is not read from disk, checked, masked
    /// and encoded again each time. 16 MiB: a few thousand one-row answers. 0 turns it off.
    /// </summary>
    public long AnswerCacheBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>Dataset versions kept per resource.</summary>
    public int KeepVersions { get; set; } = 5;

    /// <summary>
    /// The folder of dataset files when it is not <c>&lt;Node:DataPath&gt;/datasets</c>: with several
    /// replicas (<c>State:Backend=postgresql</c>), one folder every replica mounts (ReadWriteMany).
    /// A version is published by its record in the shared state, so every replica serves it at once.
    /// </summary>
    public string? DatasetPath { get; set; }
}
