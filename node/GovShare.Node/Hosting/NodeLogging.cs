using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.CompilerServices;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace GovShare.Node.Hosting;

/// <summary>
/// What the node writes to its console, so that people can read it (issue 25): one line per
/// exchange is per-request detail (Debug; the exchange log is the record of each), a summary
/// every <c>Logging:SummaryInterval</c> is what an operator reads (Information), and
/// <c>Logging:Console:FormatterName=json</c> writes one JSON object per line for log shippers.
/// </summary>
internal static class NodeLogging
{
    /// <summary>The summary's period; <c>00:00:00</c> turns it off.</summary>
    public const string SummaryIntervalKey = "Logging:SummaryInterval";

    /// <summary>
    /// The node's logging defaults, beneath every other source: appsettings.json, environment
    /// variables and arguments all override them. ASP.NET Core's own per-request lines (Hosting's
    /// "Request starting/finished", Routing's "Executing endpoint", YARP's "Proxying to") are
    /// Information; at the node's request rate they bury everything else, so they start at Warning.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string?> Defaults = new Dictionary<string, string?>(StringComparer.Ordinal)
    {
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        // While this category is on at any level, ASP.NET Core starts an Activity and a log scope for
        // every request (HostingApplicationDiagnostics asks IsEnabled(Critical)): a W3C id, two
        // execution-context changes and ~1 KB a request that nothing here reads (the console writes no
        // scopes). The category only writes the per-request lines above (Information) and a pipeline
        // that fails to build, which `node run` reports anyway as the start's exception. With
        // Telemetry:OtlpEndpoint set, the tracer listens and each request gets its span as before.
        ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "None",
        // Warns at every start that the keys of the (unused) data protection are not encrypted at rest.
        ["Logging:LogLevel:Microsoft.AspNetCore.DataProtection"] = "Error",
        ["Logging:LogLevel:Yarp"] = "Warning",
        ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Warning",
        [SummaryIntervalKey] = "00:01:00",
    };

    public static void AddGovShareLogging(this IHostApplicationBuilder builder)
    {
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = Defaults });
        // A JSON line without a time is of little use to a shipper that batches: UTC, ISO 8601, unless set.
        builder.Services.PostConfigure<JsonConsoleFormatterOptions>(json =>
        {
            if (json.TimestampFormat is null)
            {
                json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                json.UseUtcTimestamp = true;
            }
        });
        var interval = SummaryInterval(builder.Configuration) ?? TimeSpan.Zero;
        if (interval > TimeSpan.Zero)
        {
            builder.Services.AddHostedService(sp => new ActivitySummary(interval, sp.GetRequiredService<ILogger<ActivitySummary>>()));
        }
    }

    /// <summary>The summary's period, or null when the setting does not read as one.</summary>
    public static TimeSpan? SummaryInterval(IConfiguration configuration) =>
        TimeSpan.TryParse(configuration[SummaryIntervalKey] ?? "00:01:00", CultureInfo.InvariantCulture, out var interval) && interval >= TimeSpan.Zero ? interval : null;

    /// <summary>Validates the settings; every fault is listed.</summary>
    public static IEnumerable<string> Validate(IConfiguration configuration)
    {
        if (SummaryInterval(configuration) is null)
        {
            yield return $"{SummaryIntervalKey}: '{configuration[SummaryIntervalKey]}' is not a period such as 00:01:00 (00:00:00 turns the activity summary off).";
        }
    }
}

/// <summary>
/// One Information line per <c>Logging:SummaryInterval</c> in which something happened, and one at
/// stop for the rest: exchanges by kind and status, bytes by kind, refusals by problem type. It
/// reads what <c>/metrics</c> exports, so the summary, the metrics and the exchange log agree: the
/// exchange sums <see cref="ExchangeMetrics"/>' observable counters report (their difference since
/// the last line; nothing on the exchange's path) and, through a listener, the refusals counter
/// (<see cref="NodeMetrics"/>; one look-up and one interlocked add a refusal). The meters are
/// static: nodes sharing a process (tests) share the counts.
/// </summary>
internal sealed partial class ActivitySummary : NodeBackgroundService
{
    private readonly TimeSpan _interval;
    private readonly ILogger<ActivitySummary> _logger;
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, StrongBox<long>> _refusals = new(StringComparer.Ordinal);
    private readonly Lock _flushing = new();

    // The exchange sums at the last line (from this summary's start: what came before is not its to report).
    private readonly Dictionary<(string Kind, string Status), long> _stepsAt = ExchangeMetrics.StepsSoFar().ToDictionary(s => (s.Kind, s.Status), s => s.Count);
    private readonly Dictionary<string, long> _bytesAt = ExchangeMetrics.BytesSoFar().ToDictionary(b => b.Kind, b => b.Bytes, StringComparer.Ordinal);
    private long _since = System.Diagnostics.Stopwatch.GetTimestamp();

    public ActivitySummary(TimeSpan interval, ILogger<ActivitySummary> logger)
    {
        _interval = interval;
        _logger = logger;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument is { Meter.Name: NodeMetrics.MeterName, Name: "govshare.refusals" })
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>(OnMeasurement);
        _listener.Start();
    }

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                Flush();
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping: StopAsync writes the rest.
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        // The server drained before background services stop: this covers every exchange of the run.
        Flush();
    }

    public override void Dispose()
    {
        _listener.Dispose();
        base.Dispose();
    }

    private void OnMeasurement(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        var type = "other";
        foreach (var tag in tags)
        {
            if (tag is { Key: "govshare.problem.type", Value: string named })
            {
                type = named;
            }
        }

        Interlocked.Add(ref _refusals.GetOrAdd(type, static _ => new StrongBox<long>()).Value, value);
    }

    /// <summary>Logs what was counted since the last line, if anything, and starts counting afresh.</summary>
    internal void Flush()
    {
        List<((string Kind, string Status) Key, long Count)> exchanges;
        List<(string Key, long Count)> bytes;
        lock (_flushing)
        {
            exchanges = Since(ExchangeMetrics.StepsSoFar().Select(s => ((s.Kind, s.Status), s.Count)), _stepsAt);
            bytes = Since(ExchangeMetrics.BytesSoFar(), _bytesAt);
        }

        var refusals = Take(_refusals);
        var since = Interlocked.Exchange(ref _since, System.Diagnostics.Stopwatch.GetTimestamp());
        if ((exchanges.Count == 0 && refusals.Count == 0) || !_logger.IsEnabled(LogLevel.Information))
        {
            return;
        }

        var seconds = (long)Math.Round(System.Diagnostics.Stopwatch.GetElapsedTime(since).TotalSeconds);
        var exchangeCount = exchanges.Sum(e => e.Count);
        var exchangesBy = Breakdown(exchanges.Select(e => ($"{e.Key.Kind} {e.Key.Status}", e.Count)));
        var byteCount = bytes.Sum(b => b.Count);
        var bytesBy = Breakdown(bytes.Select(b => (b.Key, b.Count)));
        var refusalCount = refusals.Sum(r => r.Count);
        // The problem type's last word (urn:govshare:problem:forbidden → forbidden) reads in a line.
        var refusalsBy = Breakdown(refusals.Select(r => (r.Key[(r.Key.LastIndexOfAny([':', '/']) + 1)..], r.Count)));
        LogSummary(_logger, seconds, exchangeCount, exchangesBy, byteCount, bytesBy, refusalCount, refusalsBy);
    }

    private static List<(TKey Key, long Count)> Take<TKey>(ConcurrentDictionary<TKey, StrongBox<long>> counts)
        where TKey : notnull =>
        [.. counts.Select(c => (c.Key, Count: Interlocked.Exchange(ref c.Value.Value, 0))).Where(c => c.Count != 0).OrderBy(c => c.Key.ToString(), StringComparer.Ordinal)];

    /// <summary>What the sums grew by since <paramref name="at"/>, which then holds them.</summary>
    private static List<(TKey Key, long Count)> Since<TKey>(IEnumerable<(TKey Key, long Sum)> sums, Dictionary<TKey, long> at)
        where TKey : notnull
    {
        var grown = new List<(TKey Key, long Count)>();
        foreach (var (key, sum) in sums)
        {
            var before = at.GetValueOrDefault(key);
            if (sum != before)
            {
                grown.Add((key, sum - before));
                at[key] = sum;
            }
        }

        return [.. grown.OrderBy(c => c.Key.ToString(), StringComparer.Ordinal)];
    }

    private static string Breakdown(IEnumerable<(string Key, long Count)> counts)
    {
        var text = string.Join(", ", counts.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Key}: {c.Count}")));
        return text.Length == 0 ? "none" : text;
    }

    [LoggerMessage(EventId = 2100, EventName = "ActivitySummary", Level = LogLevel.Information,
        Message = "Activity in the last {Seconds} s: {Exchanges} exchanges ({ExchangesByKindAndStatus}); {Bytes} bytes ({BytesByKind}); {Refusals} refusals ({RefusalsByType})")]
    private static partial void LogSummary(ILogger logger, long seconds, long exchanges, string exchangesByKindAndStatus, long bytes, string bytesByKind, long refusals, string refusalsByType);
}
