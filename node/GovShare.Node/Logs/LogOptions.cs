namespace GovShare.Node.Logs;

/// <summary>
/// Settings of the local logs, section <c>Logs</c>. Validated at start; every error is reported.
/// </summary>
public sealed class LogOptions
{
    public const string Section = "Logs";

    /// <summary>Art. 28: logs are kept at least ten years, so a lower setting is refused.</summary>
    public const int MinimumRetentionYears = 10;

    /// <summary>A segment is closed and archived (gzip) once it reaches this size.</summary>
    public long SegmentBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// The zlib level (1 to 9) a closed segment is gzip-archived at. 3 by default: on the node's own
    /// exchange-log lines it makes archives 0.5-5 % larger than level 6 (what
    /// <see cref="System.IO.Compression.CompressionLevel.Optimal"/> is) for a third less CPU, and
    /// archiving runs beside the requests, so at a node's peak it takes their CPU
    /// (benchmarks/results/profile-small-exchanges.txt). Level 1 makes archives ~1.4 x larger; above
    /// 6 zlib-ng costs twice the CPU for no smaller file on these lines. A node short of disk rather
    /// than CPU may set 6. Archives of any level read the same.
    /// </summary>
    public int ArchiveCompressionLevel { get; set; } = 3;

    /// <summary>A signed checkpoint is appended after this many records …</summary>
    public int CheckpointEvery { get; set; } = 1000;

    /// <summary>… or when this much time has passed since the last one and records were added.</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Years that archives (and Kafka topics the node creates) are kept. At least 10.</summary>
    public int RetentionYears { get; set; } = MinimumRetentionYears;

    /// <summary>
    /// With several replicas (<c>State:Backend=postgresql</c>): the folder on the shared volume that
    /// holds every replica's data folder as <c>&lt;replica&gt;/</c>, this one's included. Statistics and
    /// the evaluation read the other replicas' chains from there (read only). Default: the parent of
    /// <c>Node:DataPath</c> when that parent is named <c>replicas</c> (the chart's layout).
    /// </summary>
    public string? ReplicasPath { get; set; }

    /// <summary>
    /// How long a <c>/v1/stats</c>, scorecard or report request waits for the aggregates' first fold
    /// at start before it is answered 503 <c>aggregates-rebuilding</c> (<see cref="FirstFold"/>): long
    /// enough for a small log's fold; each waiting request holds a thread meanwhile, so a node that
    /// rebuilds a long log under a burst of such requests may set 0 (refuse at once). 0 to 60 s.
    /// </summary>
    public TimeSpan AggregatePatience { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Every problem of the settings; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (AggregatePatience < TimeSpan.Zero || AggregatePatience > TimeSpan.FromSeconds(60))
        {
            errors.Add("Logs:AggregatePatience must be from 0 to 60 seconds.");
        }

        if (SegmentBytes < 4096)
        {
            errors.Add("Logs:SegmentBytes must be at least 4096.");
        }

        if (ArchiveCompressionLevel is < 1 or > 9)
        {
            errors.Add($"Logs:ArchiveCompressionLevel must be from 1 to 9 (a zlib level); it is {ArchiveCompressionLevel}.");
        }

        if (CheckpointEvery < 1)
        {
            errors.Add("Logs:CheckpointEvery must be at least 1.");
        }

        if (CheckpointInterval <= TimeSpan.Zero)
        {
            errors.Add("Logs:CheckpointInterval must be positive.");
        }

        if (RetentionYears < MinimumRetentionYears)
        {
            errors.Add($"Logs:RetentionYears must be at least {MinimumRetentionYears} (Art. 28); it is {RetentionYears}.");
        }

        return errors;
    }

    /// <summary>The retention as Kafka's <c>retention.ms</c>.</summary>
    public long RetentionMilliseconds => (long)TimeSpan.FromDays(366.0 * RetentionYears).TotalMilliseconds;
}

/// <summary>Settings of the Kafka relay, section <c>Kafka</c>. Without <see cref="BootstrapServers"/> logs stay local.</summary>
public sealed class KafkaOptions
{
    public const string Section = "Kafka";

    public string? BootstrapServers { get; set; }

    /// <summary>Partitions of topics the relay creates; records are keyed by resource code.</summary>
    public int TopicPartitions { get; set; } = 8;

    /// <summary>Create a missing topic (with <c>Logs:RetentionYears</c> retention); off where the Kafka team owns topics.</summary>
    public bool CreateTopics { get; set; } = true;

    public short TopicReplicationFactor { get; set; } = 3;

    /// <summary>librdkafka <c>message.timeout.ms</c>: after it a delivery fails and the relay sends again.</summary>
    public int MessageTimeoutMs { get; set; } = 30_000;

    /// <summary>Records read and produced per round.</summary>
    public int BatchSize { get; set; } = 2000;

    /// <summary>
    /// How often at most the relay replaces its watermark file (<c>shipped</c>: write, fsync, rename,
    /// fsync of the folder). Kafka's confirmations move the watermark in memory at once; the file
    /// follows within this interval, when the relay catches up, and at stop. A crash loses at most
    /// this much of it, and the relay then sends those records again — delivery is at least once
    /// anyway (consumers key on node, log and sequence). 0 writes it after every relayed batch.
    /// </summary>
    public TimeSpan WatermarkInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a stopping node waits for Kafka to confirm the last records (the closing checkpoints included).</summary>
    public TimeSpan StopFlushTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Extra librdkafka settings (e.g. <c>security.protocol</c>, <c>ssl.*</c>).</summary>
    public Dictionary<string, string> Producer { get; set; } = [];

    public bool Enabled => !string.IsNullOrWhiteSpace(BootstrapServers);

    /// <summary>Topic of one log: <c>govshare.&lt;division&gt;.&lt;log&gt;</c>.</summary>
    public static string Topic(string division, LogKind log) => $"govshare.{division}.{LogEntry.LogName(log)}";

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (TopicPartitions < 1)
        {
            errors.Add("Kafka:TopicPartitions must be at least 1.");
        }

        if (TopicReplicationFactor < 1)
        {
            errors.Add("Kafka:TopicReplicationFactor must be at least 1.");
        }

        if (MessageTimeoutMs < 1000)
        {
            errors.Add("Kafka:MessageTimeoutMs must be at least 1000.");
        }

        if (BatchSize < 1)
        {
            errors.Add("Kafka:BatchSize must be at least 1.");
        }

        if (WatermarkInterval < TimeSpan.Zero || WatermarkInterval > TimeSpan.FromSeconds(10))
        {
            errors.Add("Kafka:WatermarkInterval must be between 0 and 10 seconds.");
        }

        if (StopFlushTimeout < TimeSpan.Zero || StopFlushTimeout > TimeSpan.FromMinutes(1))
        {
            errors.Add("Kafka:StopFlushTimeout must be between 0 and 1 minute.");
        }

        return errors;
    }
}
