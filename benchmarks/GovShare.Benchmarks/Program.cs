using BenchmarkDotNet.Running;

namespace GovShare.Benchmarks;

/// <summary>
/// Runs the micro-benchmarks. Without a <c>--job</c> argument the short job is used (3 warm-ups,
/// 3 iterations), which keeps a full run reasonable on a shared 2-core machine.
/// </summary>
public static class Program
{
    public static void Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length > 0 && args[0].StartsWith("compare-join", StringComparison.Ordinal))
        {
            // Minutes per run at 10 million rows: a plain timed run with its baseline, not BenchmarkDotNet.
            Environment.ExitCode = Compare.CompareJoinRun.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "history")
        {
            // /v1/stats and a year's report over a 10-million-record log, incremental vs full scan: minutes per full scan.
            Environment.ExitCode = Logs.HistoryRun.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "log-cpu")
        {
            // The log writer per append by process CPU, work items and context switches (alternate processes to compare).
            Environment.ExitCode = Logs.LogWriterCpuRun.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "archive-cpu")
        {
            // A closed exchange-log segment's gzip at each zlib level: CPU a record and the archive's size.
            Environment.ExitCode = Logs.ArchiveCpuRun.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "aggregate-cpu")
        {
            // The log tail's catch-up per one-row pull record (statistics + evaluation aggregates), by thread CPU and bytes allocated.
            Environment.ExitCode = Logs.AggregateCpuRun.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "decision-cpu")
        {
            // A pull's authorisation and answer-cache key per request, by thread CPU and bytes allocated.
            Environment.ExitCode = Exchange.PullDecisionCpuRun.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "lookups-cpu")
        {
            // The pipeline's per-request look-ups on a one-row pull, as before fix/feat19 and now, inside a real Kestrel request.
            Environment.ExitCode = Hosting.RequestLookupsCpuRun.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "metrics-cpu")
        {
            // The exchange instruments per step with the node's listeners attached, by thread CPU and bytes allocated.
            Environment.ExitCode = Logs.ExchangeMetricsCpuRun.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "native-cpu")
        {
            // A pull's own native calls (exchange id, chain hash, clocks), each by thread CPU and bytes allocated.
            Environment.ExitCode = Logs.PullNativeCpuRun.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "json-cpu")
        {
            // The JSON micro-benchmark's methods by process CPU time, not wall time: on the shared
            // machine under load 50 the wall-clock figures of BenchmarkDotNet spread over ±100 %.
            Environment.ExitCode = Exchange.JsonRepresentationBenchmarks.RunByCpu(args);
            return;
        }

        var effective = args.Any(a => a is "--job" or "-j") ? args : [.. args, "--job", "short"];
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(effective);
    }
}
