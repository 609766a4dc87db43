using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using GovShare.LoadBenchmark.Servers;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;

namespace GovShare.Benchmarks.Logs;

/// <summary>
/// <c>log-cpu [seconds] [appenders] [node|durable]</c>: closed-loop appenders (16 by default, as the load
/// benchmark's one-row workers) each appending an exchange record to a real <see cref="LogWriter"/>
/// and waiting until it is durable, for a number of seconds. <c>durable</c> appends instead a line
/// of the same length to the load benchmark's durable baseline (<see cref="GroupCommitFile"/>: one
/// write and one fsync a group, no record to serialise, no hash chain, no checkpoints), so the
/// two runs, alternated, say what the node's writer costs per record beyond the baseline's. Reports appends a second and, per
/// append, the process's CPU (from /proc, user + system), thread-pool work items completed, bytes
/// allocated and context switches (all threads): figures that say what the writer costs the rest of
/// the process per exchange, less swayed by the machine's load than wall time. Run it in
/// alternating processes to compare writer variants (fix/small7 compared a dedicated writer
/// thread and a one-work-item-per-commit release this way; neither was kept: benchmarks/results/history.md, fix/small7).
/// </summary>
public static class LogWriterCpuRun
{
    public static int Run(string[] args)
    {
        var seconds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10;
        var appenders = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 16;
        var durable = args.Length > 3 && args[3] == "durable";
        if (args.Length > 3 && args[3] is not ("node" or "durable"))
        {
            Console.Error.WriteLine("Usage: log-cpu [seconds] [appenders] [node|durable]");
            return 2;
        }

        var folder = Path.Combine(Path.GetTempPath(), "govshare-log-cpu-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var data = NodeDataFolder.Open(folder);
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var writer = new LogWriter(data, "530100", key, new LogOptions(), TimeProvider.System);
            var record = LogAppendBenchmarks.OnePullRecord();
            // The baseline's line: as long as the node's per record (its line, newline and share of
            // the checkpoints), measured as LogAppendBenchmarks does, over a first probe of appends.
            long LogBytes() => new DirectoryInfo(Path.Combine(data.Path, "logs")).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
            var before = LogBytes();
            const int Probe = 200;
            Task.WaitAll([.. Enumerable.Range(0, Probe).Select(_ => writer.AppendAsync(LogKind.Exchange, record))]);
            var line = new byte[(int)Math.Max(64, (LogBytes() - before) / Probe)];
            Array.Fill(line, (byte)'x');
            line[^1] = (byte)'\n';
            var baseline = durable ? new GroupCommitFile(Path.Combine(folder, "durable.log")) : null;
            Func<Task> append = baseline is null ? () => writer.AppendAsync(LogKind.Exchange, record) : () => baseline.AppendAsync(line);

            // Warm-up: tier-up and the first segment.
            Loop(append, appenders, TimeSpan.FromSeconds(2));
            var cpu = ProcessCpu();
            var items = ThreadPool.CompletedWorkItemCount;
            var allocated = GC.GetTotalAllocatedBytes(precise: false);
            var switches = ContextSwitches();
            var wall = Stopwatch.StartNew();
            // The node's fsyncs from its group-size histogram (one measurement a group), the baseline's from its count.
            long groups = 0;
            using var listener = new MeterListener();
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument is { Name: "govshare.log.fsync.group_size", Meter.Name: LogMetrics.MeterName })
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<int>((_, _, _, _) => Interlocked.Increment(ref groups));
            listener.Start();
            var fsyncs = baseline?.Fsyncs ?? 0;
            var appends = Loop(append, appenders, TimeSpan.FromSeconds(seconds));
            wall.Stop();
            fsyncs = baseline is null ? Interlocked.Read(ref groups) : baseline.Fsyncs - fsyncs;
            var cpuUs = (ProcessCpu() - cpu).TotalMicroseconds / appends;
            var itemsPer = (double)(ThreadPool.CompletedWorkItemCount - items) / appends;
            var bytesPer = (double)(GC.GetTotalAllocatedBytes(precise: false) - allocated) / appends;
            var switchesPer = (double)(ContextSwitches() - switches) / appends;
            writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
            baseline?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Console.WriteLine(System.FormattableString.Invariant(
                $"log-cpu {(durable ? "durable" : "node")} ({line.Length} B lines) load {ThreadCost.Load()}: {appends / wall.Elapsed.TotalSeconds:F0} appends/s, {cpuUs:F1} us CPU, {itemsPer:F2} work items, {bytesPer:F0} B allocated, {switchesPer:F2} context switches, {(double)appends / Math.Max(1, fsyncs):F1} records an fsync"));
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static long Loop(Func<Task> append, int appenders, TimeSpan length)
    {
        long appends = 0;
        var until = Stopwatch.GetTimestamp() + (long)(length.TotalSeconds * Stopwatch.Frequency);
        Task.WaitAll([.. Enumerable.Range(0, appenders).Select(_ => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < until)
            {
                await append();
                Interlocked.Increment(ref appends);
            }
        }))]);
        return appends;
    }

    /// <summary>This process's CPU time (user + system, all threads).</summary>
    internal static TimeSpan ProcessCpu()
    {
        using var self = Process.GetCurrentProcess();
        return self.TotalProcessorTime;
    }

    /// <summary>Voluntary and involuntary context switches of every thread of this process.</summary>
    private static long ContextSwitches()
    {
        long total = 0;
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                {
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        total += long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), System.Globalization.CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (IOException)
            {
                // The thread ended meanwhile.
            }
        }

        return total;
    }
}
