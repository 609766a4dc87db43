using System.Diagnostics;
using System.Globalization;

namespace GovShare.Adapters;

/// <summary>
/// An opt-in timing trace of a department command's phases: with <c>GOVSHARE_TRACE=1</c> each
/// phase writes one line to standard error — milliseconds since the process started and the
/// process's CPU time so far. It says where a push's wall time goes (start-up, TLS, the catalog
/// fetch, the source, the upload, the node's answer; adapters/README.md, Timings) on any machine,
/// without a profiler. Off (the default), a mark is one test of a static flag.
/// </summary>
public static class PhaseTrace
{
    public static bool Enabled { get; } = Environment.GetEnvironmentVariable("GOVSHARE_TRACE") == "1";

    private static readonly DateTime Started = Enabled ? Process.GetCurrentProcess().StartTime.ToUniversalTime() : default;

    public static void Mark(string phase)
    {
        if (!Enabled)
        {
            return;
        }

        var now = DateTime.UtcNow;
        using var self = Process.GetCurrentProcess();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"govshare trace {(now - Started).TotalMilliseconds,8:F1} ms wall {self.TotalProcessorTime.TotalMilliseconds,7:F0} ms cpu  {phase}"));
    }
}
