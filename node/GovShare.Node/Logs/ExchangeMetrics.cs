using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
namespace GovShare.Node.Logs;

/// <summary>
/// The exchange instruments (exported at the management listener's <c>/metrics</c>): one push,
/// pull, comparison or forward as its exchange-log record sees it. Recorded where the record is
/// written — Exchange's <c>ExchangeStep.RecordAsync</c> and Hierarchy's <c>NodeForwarder</c>, which
/// writes its own — so the counts and the log agree. Here, beside the record kinds, because both
/// features record and neither may use the other. Recording allocates nothing: tag values are
/// cached strings, never a boxed status.
/// </summary>
public static class ExchangeMetrics
{
    /// <summary>The meter's name, for the metrics endpoint to export.</summary>
    public const string MeterName = "GovShare.Node.Exchange";

    /// <summary>The trace source: one activity per exchange step, the exchange id as <c>govshare.exchange.id</c>.</summary>
    public static readonly ActivitySource Source = new(MeterName);

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Exchanges = Meter.CreateCounter<long>(
        "govshare.exchanges", unit: "{exchange}", description: "Exchange steps ended, by kind (push, pull, compare, forward) and HTTP status; refusals included.");

    private static readonly Counter<long> Bytes = Meter.CreateCounter<long>(
        "govshare.exchange.bytes", unit: "By", description: "Arrow bytes taken (push) or delivered (pull), by kind; a forward: the request and response bodies it relayed; successful steps only.");

    private static readonly Counter<long> Rows = Meter.CreateCounter<long>(
        "govshare.exchange.rows", unit: "{row}", description: "Rows taken (push) or delivered (pull), by kind; successful steps only.");

    private static readonly Histogram<double> Duration = Meter.CreateHistogram(
        "govshare.exchange.duration", unit: "s", description: "Time from a step's start to its exchange-log record (the log's own durationMs), by kind and outcome.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] });

    private static readonly string[] Statuses = [.. Enumerable.Range(0, 600).Select(s => s.ToString(CultureInfo.InvariantCulture))];

    private static readonly string[] Kinds = [.. Enum.GetValues<ExchangeKind>().Select(k => System.Text.Json.JsonNamingPolicy.KebabCaseLower.ConvertName(k.ToString()))];

    /// <summary>Counts one ended step.</summary>
    public static void Record(ExchangeKind kind, int status, long rows, long bytes, TimeSpan elapsed)
    {
        var kindTag = new KeyValuePair<string, object?>("govshare.exchange.kind", (int)kind < Kinds.Length ? Kinds[(int)kind] : "other");
        var statusTag = new KeyValuePair<string, object?>("http.response.status_code", status is >= 0 and < 600 ? Statuses[status] : "other");
        Exchanges.Add(1, kindTag, statusTag);
        Duration.Record(elapsed.TotalSeconds, kindTag, new KeyValuePair<string, object?>("govshare.exchange.outcome", status < 400 ? "ok" : "refused"));
        if (status < 400)
        {
            Rows.Add(rows, kindTag);
            Bytes.Add(bytes, kindTag);
        }
    }
}
