using GovShare.Node.Hosting;
using GovShare.Node.Logs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using OpenTelemetry.Metrics;

namespace GovShare.Benchmarks.Logs;

/// <summary>
/// <c>metrics-cpu [calls]</c>: <see cref="ExchangeMetrics.Record"/> for a one-row pull, with what
/// listens in a node (the OpenTelemetry meter provider that <c>/metrics</c> exports from, and the
/// console's <see cref="ActivitySummary"/>), by thread CPU time and bytes allocated per call.
/// Build-against-build (alternate the processes): before fix/relay18 the three counters were
/// updated per step through both listeners; since, they are observable sums read at collection.
/// </summary>
public static class ExchangeMetricsCpuRun
{
    public static int Run(string[] args)
    {
        var calls = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 2_000_000;
        var services = new ServiceCollection();
        services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(ExchangeMetrics.MeterName).AddPrometheusExporter());
        using var provider = services.BuildServiceProvider();
        _ = provider.GetRequiredService<MeterProvider>();
        using var summary = new ActivitySummary(TimeSpan.FromMinutes(1), NullLogger<ActivitySummary>.Instance);
        var elapsed = TimeSpan.FromMilliseconds(3);
        for (var i = 0; i < 100_000; i++)
        {
            ExchangeMetrics.Record(ExchangeKind.Pull, 200, 1, 512, elapsed);
        }

        for (var round = 0; round < 3; round++)
        {
            var (ns, bytes, _) = ThreadCost.Measure(calls, _ =>
            {
                ExchangeMetrics.Record(ExchangeKind.Pull, 200, 1, 512, elapsed);
                return 0;
            });
            Console.WriteLine(FormattableString.Invariant($"metrics-cpu round {round + 1}, load {ThreadCost.Load()}: {ns:F0} ns thread CPU, {bytes:F1} B allocated per ExchangeMetrics.Record (pull 200), OpenTelemetry and the activity summary listening"));
        }

        return 0;
    }
}
