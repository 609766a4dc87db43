using GovShare.LoadBenchmark.Driver;
using GovShare.LoadBenchmark.Servers;

namespace GovShare.LoadBenchmark;

/// <summary>
/// <c>GovShare.LoadBenchmark [--smoke] [--out results.json] [--work folder]</c> runs the load
/// benchmark. The same program is its own child processes: <c>serve-node</c>, <c>serve-raw</c>
/// and <c>serve-yarp</c> followed by a configuration file.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        return args.FirstOrDefault() switch
        {
            NodeHost.Role => await NodeHost.RunAsync(args[1]),
            RawServer.Role => await RawServer.RunAsync(args[1]),
            YarpHop.Role => await YarpHop.RunAsync(args[1]),
            _ => await LoadRun.MainAsync(args),
        };
    }
}
