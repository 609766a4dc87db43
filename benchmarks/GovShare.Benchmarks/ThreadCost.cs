namespace GovShare.Benchmarks;

/// <summary>
/// The timed modes' one measuring loop: thread CPU time and bytes allocated a step, on the calling
/// thread. Wall time spreads ±100 % on these shared cores; a thread's own CPU does not count what
/// other processes take. /proc counts CPU in 10-ms ticks, so a measurement needs tens of milliseconds
/// of work (millions of calls of a few nanoseconds) to be read to a few percent.
/// </summary>
internal static class ThreadCost
{
    /// <summary>Runs <paramref name="step"/> for 0 .. <paramref name="count"/> - 1; what it returns is summed into <c>Sink</c> (print it, so the work is not dropped).</summary>
    public static (double Ns, double Bytes, long Sink) Measure(int count, Func<int, long> step)
    {
        long sink = 0;
        var cpu = ThreadCpu();
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < count; i++)
        {
            sink += step(i);
        }

        var ns = (ThreadCpu() - cpu).TotalNanoseconds / count;
        var bytes = (double)(GC.GetAllocatedBytesForCurrentThread() - allocated) / count;
        return (ns, bytes, sink);
    }

    /// <summary>This thread's CPU time (user + system), from /proc/thread-self/stat.</summary>
    public static TimeSpan ThreadCpu()
    {
        var stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / 100.0);
    }

    /// <summary>The 1-minute load average, printed beside each figure.</summary>
    public static string Load() => File.ReadAllText("/proc/loadavg").Split(' ')[0];
}
