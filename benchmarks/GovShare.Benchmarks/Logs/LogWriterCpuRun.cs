using System.Diagnostics;
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
        var folder = Path.Combine(Path.GetTempPath(), "govshare-log-cpu-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var data = NodeDataFolder.Open(folder);
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var writer = new LogWriter(data, "530100", key, new LogOptions(), TimeProvider.System);
            var record = LogAppendBenchmarks.OnePullRecord();

            // Warm-up: tier-up and the first segment.
            Loop(writer, record, appenders, TimeSpan.FromSeconds(2));
            var cpu = ProcessCpu();
            var items = ThreadPool.CompletedWorkItemCount;
            var allocated = GC.GetTotalAllocatedBytes(precise: false);
            var switches = ContextSwitches();
            var wall = Stopwatch.StartNew();
            var appends = Loop(writer, record, appenders, TimeSpan.FromSeconds(seconds));
            wall.Stop();
            var cpuUs = (ProcessCpu() - cpu).TotalMicroseconds / appends;
            var itemsPer = (double)(ThreadPool.CompletedWorkItemCount - items) / appends;
            var bytesPer = (double)(GC.GetTotalAllocatedBytes(precise: false) - allocated) / appends;
            var switchesPer = (double)(ContextSwitches() - switches) / appends;
            writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Console.WriteLine(System.FormattableString.Invariant(
                $"log-cpu load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}: {appends / wall.Elapsed.TotalSeconds:F0} appends/s, {cpuUs:F1} us CPU, {itemsPer:F2} work items, {bytesPer:F0} B allocated, {switchesPer:F2} context switches per append"));
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static long Loop(LogWriter writer, LogRecord record, int appenders, TimeSpan length)
    {
        long appends = 0;
        var until = Stopwatch.GetTimestamp() + (long)(length.TotalSeconds * Stopwatch.Frequency);
        Task.WaitAll([.. Enumerable.Range(0, appenders).Select(_ => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < until)
            {
                await writer.AppendAsync(LogKind.Exchange, record);
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
