using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;

namespace GovShare.Benchmarks.Logs;

/// <summary>
/// <c>log-cpu [seconds] [appenders]</c>: closed-loop appenders (16 by default, as the load
/// benchmark's one-row workers) each appending an exchange record to a real <see cref="LogWriter"/>
/// and waiting until it is durable, for a number of seconds. Reports appends a second and, per
/// append, the process's CPU (from /proc, user + system), thread-pool work items completed, bytes
/// allocated and context switches (all threads): figures that say what the writer costs the rest of
/// the process per exchange, less swayed by the machine's load than wall time, and the mean group
/// an fsync made durable (<c>govshare.log.fsync.group_size</c>): a release that shrinks the groups
/// shows there first. <c>log-cpu [seconds] [appenders] writer</c> appends with
/// <see cref="LogResume.Writer"/> (the appenders resume on the writer's thread, as an exchange's
/// request does). Run it in alternating processes to compare writer variants (fix/small7 compared a
/// dedicated writer thread and a one-work-item-per-commit release this way; neither was kept:
/// benchmarks/results/history.md, fix/small7).
/// </summary>
public static class LogWriterCpuRun
{
    public static int Run(string[] args)
    {
        var seconds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10;
        var appenders = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 16;
        var resume = args.Length > 3 && args[3] == "writer" ? LogResume.Writer : LogResume.ThreadPool;
        var folder = Path.Combine(Path.GetTempPath(), "govshare-log-cpu-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var data = NodeDataFolder.Open(folder);
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var writer = new LogWriter(data, "530100", key, new LogOptions(), TimeProvider.System);
            var record = LogAppendBenchmarks.OnePullRecord();

            // Warm-up: tier-up and the first segment.
            Loop(writer, record, appenders, resume, TimeSpan.FromSeconds(2));
            long groups = 0, grouped = 0;
            using var listener = new MeterListener();
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == LogMetrics.MeterName && instrument.Name == "govshare.log.fsync.group_size")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<int>((_, size, _, _) =>
            {
                // Called on the writer's thread, one log here: plain sums are enough.
                groups++;
                grouped += size;
            });
            listener.Start();
            var cpu = ProcessCpu();
            var items = ThreadPool.CompletedWorkItemCount;
            var allocated = GC.GetTotalAllocatedBytes(precise: false);
            var switches = ContextSwitches();
            var wall = Stopwatch.StartNew();
            var appends = Loop(writer, record, appenders, resume, TimeSpan.FromSeconds(seconds));
            wall.Stop();
            listener.Dispose();
            var cpuUs = (ProcessCpu() - cpu).TotalMicroseconds / appends;
            var itemsPer = (double)(ThreadPool.CompletedWorkItemCount - items) / appends;
            var bytesPer = (double)(GC.GetTotalAllocatedBytes(precise: false) - allocated) / appends;
            var switchesPer = (double)(ContextSwitches() - switches) / appends;
            writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Console.WriteLine(System.FormattableString.Invariant(
                $"log-cpu {resume} load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}: {appends / wall.Elapsed.TotalSeconds:F0} appends/s, {cpuUs:F1} us CPU, {itemsPer:F2} work items, {bytesPer:F0} B allocated, {switchesPer:F2} context switches per append; {(double)grouped / Math.Max(1, groups):F1} records an fsync"));
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static long Loop(LogWriter writer, LogRecord record, int appenders, LogResume resume, TimeSpan length)
    {
        long appends = 0;
        var until = Stopwatch.GetTimestamp() + (long)(length.TotalSeconds * Stopwatch.Frequency);
        Task.WaitAll([.. Enumerable.Range(0, appenders).Select(_ => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < until)
            {
                await writer.AppendAsync(LogKind.Exchange, record, resume);
                Interlocked.Increment(ref appends);
            }
        }))]);
        return appends;
    }

    private static TimeSpan ProcessCpu()
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
