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
        var effective = args.Any(a => a is "--job" or "-j") ? args : [.. args, "--job", "short"];
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(effective);
    }
}
