using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
namespace GovShare.Node.Logs;

/// <summary>
/// The exchange instruments (exported at the management listener's <c>/metrics</c>): one push,
/// pull, comparison or forward as its exchange-log record sees it. Recorded where the record is
/// written — Exchange's <c>ExchangeStep.RecordAsync</c> and Hierarchy's <c>NodeForwarder</c>, which
/// writes its own — so the counts and the log agree. Here, beside the record kinds, because both
/// features record and neither may use the other. Recording allocates nothing: three interlocked
/// adds and the duration histogram (its tag values cached strings).
/// </summary>
public static class ExchangeMetrics
{
    /// <summary>The meter's name, for the metrics endpoint to export.</summary>
    public const string MeterName = "GovShare.Node.Exchange";

    /// <summary>The trace source: one activity per exchange step, the exchange id as <c>govshare.exchange.id</c>.</summary>
    public static readonly ActivitySource Source = new(MeterName);

    private static readonly string[] Statuses = [.. Enumerable.Range(0, 600).Select(s => s.ToString(CultureInfo.InvariantCulture)), "other"];

    private static readonly string[] Kinds = [.. Enum.GetValues<ExchangeKind>().Select(k => System.Text.Json.JsonNamingPolicy.KebabCaseLower.ConvertName(k.ToString())), "other"];

    // The three counters' sums since the process started, added to by Record and read when a listener
    // collects (the observable counters below): an interlocked add a count on the exchange's path,
    // instead of three instrument updates each looked up by its tags in every listener. Indexed by
    // kind (Kinds, "other" last) and, for the steps, status (Statuses, "other" last).
    private static readonly long[] StepCounts = new long[Kinds.Length * Statuses.Length];
    private static readonly long[] RowCounts = new long[Kinds.Length];
    private static readonly long[] ByteCounts = new long[Kinds.Length];

    private static readonly Meter Meter = new(MeterName);

    private static readonly Histogram<double> Duration = Meter.CreateHistogram(
        "govshare.exchange.duration", unit: "s", description: "Time from a step's start to its exchange-log record (the log's own durationMs), by kind and outcome.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] });

    static ExchangeMetrics()
    {
        // Observable, exported as the counters they were (a monotonic sum; same names, units, tags and
        // descriptions, deploy/README's metrics table): a series appears once its first step is counted.
        Meter.CreateObservableCounter(
            "govshare.exchanges", ObserveExchanges, unit: "{exchange}", description: "Exchange steps ended, by kind (push, pull, compare, forward) and HTTP status; refusals included.");
        Meter.CreateObservableCounter(
            "govshare.exchange.bytes", () => ObserveByKind(ByteCounts), unit: "By", description: "Arrow bytes taken (push) or delivered (pull), by kind; a forward: the request and response bodies it relayed; successful steps only.");
        Meter.CreateObservableCounter(
            "govshare.exchange.rows", () => ObserveByKind(RowCounts), unit: "{row}", description: "Rows taken (push) or delivered (pull), by kind; successful steps only.");
    }

    /// <summary>Counts one ended step.</summary>
    public static void Record(ExchangeKind kind, int status, long rows, long bytes, TimeSpan elapsed)
    {
        var kindIndex = (int)kind is >= 0 and var k && k < Kinds.Length - 1 ? k : Kinds.Length - 1;
        var statusIndex = status is >= 0 and < 600 ? status : Statuses.Length - 1;
        Interlocked.Increment(ref StepCounts[(kindIndex * Statuses.Length) + statusIndex]);
        Duration.Record(
            elapsed.TotalSeconds,
            new KeyValuePair<string, object?>("govshare.exchange.kind", Kinds[kindIndex]),
            new KeyValuePair<string, object?>("govshare.exchange.outcome", status < 400 ? "ok" : "refused"));
        if (status < 400)
        {
            Interlocked.Add(ref RowCounts[kindIndex], rows);
            Interlocked.Add(ref ByteCounts[kindIndex], bytes);
        }
    }

    /// <summary>Steps ended since the process started, by kind and status: what <c>govshare.exchanges</c> exports (combinations not seen yet left out).</summary>
    public static IEnumerable<(string Kind, string Status, long Count)> StepsSoFar()
    {
        for (var i = 0; i < StepCounts.Length; i++)
        {
            if (Volatile.Read(ref StepCounts[i]) is var count and not 0)
            {
                yield return (Kinds[i / Statuses.Length], Statuses[i % Statuses.Length], count);
            }
        }
    }

    /// <summary>Bytes since the process started, by kind: what <c>govshare.exchange.bytes</c> exports.</summary>
    public static IEnumerable<(string Kind, long Bytes)> BytesSoFar() => SoFar(ByteCounts);

    private static IEnumerable<(string Kind, long Count)> SoFar(long[] counts)
    {
        for (var i = 0; i < counts.Length; i++)
        {
            if (Volatile.Read(ref counts[i]) is var count and not 0)
            {
                yield return (Kinds[i], count);
            }
        }
    }

    private static IEnumerable<Measurement<long>> ObserveExchanges() =>
        StepsSoFar().Select(s => new Measurement<long>(s.Count, new KeyValuePair<string, object?>("govshare.exchange.kind", s.Kind), new KeyValuePair<string, object?>("http.response.status_code", s.Status)));

    private static IEnumerable<Measurement<long>> ObserveByKind(long[] counts) =>
        SoFar(counts).Select(c => new Measurement<long>(c.Count, new KeyValuePair<string, object?>("govshare.exchange.kind", c.Kind)));
}
