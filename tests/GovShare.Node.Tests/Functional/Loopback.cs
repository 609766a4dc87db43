using System.Net;
using System.Net.Sockets;

namespace GovShare.Node.Tests.Functional;

/// <summary>What process-level tests need: a free loopback port, and the built <c>govshare</c> program.</summary>
public static class Loopback
{
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// The CLI from its own build output (same configuration as this test run): its deps.json
    /// expects its own copies of the package assemblies, which the test folder does not keep.
    /// </summary>
    public static string GovShareDll()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var dll = Path.Combine(Deploy.RepositoryRoot.Path, "node", "GovShare.Cli", "bin", configuration, "net10.0", "govshare.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build the solution first.");
        return dll;
    }
}
