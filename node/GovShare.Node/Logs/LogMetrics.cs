using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace GovShare.Node.Logs;

/// <summary>
/// The logs' instruments (exported at the management listener's <c>/metrics</c>). The append path
/// records without allocating (cached tag strings); the Kafka lag is observed at each scrape
/// (<see cref="LogGauges"/>, one per node).
/// </summary>
public static class LogMetrics
{
    /// <summary>The meter's name, for the metrics endpoint to export.</summary>
    public const string MeterName = "GovShare.Node.Logs";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Histogram<double> AppendDuration = Meter.CreateHistogram(
        "govshare.log.append.duration", unit: "s", description: "Time from a record handed to a log until it is fsync'd (what every acknowledged exchange waits for), by log.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5] });

    private static readonly Histogram<int> GroupSize = Meter.CreateHistogram(
        "govshare.log.fsync.group_size", unit: "{record}", description: "Appends made durable by one fsync (group commit), by log.",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] });

    private static readonly string[] Names = [.. Enum.GetValues<LogKind>().Select(LogEntry.LogName)];

    internal static KeyValuePair<string, object?> Tag(LogKind log) => new("govshare.log", Names[(int)log]);

    internal static void RecordGroup(LogKind log, int appends) => GroupSize.Record(appends, Tag(log));

    internal static void RecordAppend(LogKind log, long enqueued) => AppendDuration.Record(Stopwatch.GetElapsedTime(enqueued).TotalSeconds, Tag(log));
}

/// <summary>
/// The logs' gauges, read at each scrape: how far Kafka trails each log (records durable here and
/// not yet confirmed by Kafka; absent without Kafka). One per node, on its own meter instance.
/// </summary>
public sealed class LogGauges
{
    public LogGauges(IMeterFactory meters, LogWriter writer, KafkaLogRelay? relay = null)
    {
        ArgumentNullException.ThrowIfNull(meters);
        var meter = meters.Create(LogMetrics.MeterName);
        meter.CreateObservableGauge(
            "govshare.log.sequence",
            () => Enum.GetValues<LogKind>().Select(log => new Measurement<long>(writer.DurableSequence(log), LogMetrics.Tag(log))),
            unit: "{record}",
            description: "The last durable sequence of each log.");
        if (relay is not null)
        {
            meter.CreateObservableGauge(
                "govshare.log.kafka.lag",
                () => Enum.GetValues<LogKind>().Select(log => new Measurement<long>(Math.Max(0, writer.DurableSequence(log) - relay.Shipped(log)), LogMetrics.Tag(log))),
                unit: "{record}",
                description: "Records durable in each log and not yet confirmed by Kafka (the relay's lag).");
        }
    }
}
