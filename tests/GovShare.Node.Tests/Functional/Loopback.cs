using System.Net;
using System.Net.Sockets;

namespace GovShare.Node.Tests.Functional;

/// <summary>What process-level tests need: a free loopback port, and the built <c>govshare</c> program.</summary>
public static class Loopback
{
    // Below Linux's ephemeral range (32768–60999): a port handed out here is bound later by a node
    // process, and in between any outgoing connection of the suite could take an ephemeral port as its
    // local port ("address already in use" on a loaded machine). Never the same port twice per run.
    private const int FirstPort = 20000;
    private const int LastPort = 32767;
    private static readonly HashSet<int> Issued = [];

    /// <summary>A loopback port free now, outside the ephemeral range, not handed out before in this run.</summary>
    public static int FreePort()
    {
        lock (Issued)
        {
            for (var attempt = 0; attempt < 1000; attempt++)
            {
                var port = Random.Shared.Next(FirstPort, LastPort + 1);
                if (!Issued.Add(port))
                {
                    continue;
                }

                try
                {
                    using var listener = new TcpListener(IPAddress.Loopback, port);
                    listener.Start();
                    return port;
                }
                catch (SocketException)
                {
                    // Taken by something else on the machine: try another.
                }
            }
        }

        throw new InvalidOperationException($"no free loopback port in {FirstPort}–{LastPort} after 1000 tries");
    }

    /// <summary>
    /// The CLI from its own build output (same configuration as this test run): its deps.json
    /// expects its own copies of the package assemblies, which the test folder does not keep.
    /// </summary>
    public static string GovShareDll() => BuiltGovShare("GovShare.Cli");

    /// <summary>
    /// Fails, saying why, when SIGINT cannot reach the processes a test starts. A test runner started in the
    /// background (a script's <c>&amp;</c>, nohup) ignores SIGINT, and Unix hands an ignored signal on to every
    /// child, so the node and the tool then rightly ignore Ctrl+C too: without this, a SIGINT test only times out.
    /// tests/run.sh starts the tests with SIGINT's default restored.
    /// </summary>
    public static void AssertSigIntDelivered()
    {
        var ignored = File.ReadLines("/proc/self/status").First(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        var mask = Convert.ToUInt64(ignored["SigIgn:".Length..].Trim(), 16);
        Assert.True((mask & (1UL << (2 - 1))) == 0,
            "SIGINT is ignored in this test process (started in the background?), so every process it starts ignores it too. Run the tests through tests/run.sh, or under 'env --default-signal=INT'.");
    }

    /// <summary>The department tool's ordinary build (node/GovShare.DepartmentTool; departments get its Native AOT publish).</summary>
    public static string DepartmentToolDll() => BuiltGovShare("GovShare.DepartmentTool");

    private static string BuiltGovShare(string project)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var dll = Path.Combine(Deploy.RepositoryRoot.Path, "node", project, "bin", configuration, "net10.0", "govshare.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build the solution first.");
        return dll;
    }
}
