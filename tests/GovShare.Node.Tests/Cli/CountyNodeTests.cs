using GovShare.Cli.Commands;
using GovShare.Node.Tests.Functional;

namespace GovShare.Node.Tests.Cli;

/// <summary>
/// Counties build no platform of their own (Art. 21): the <c>govshare</c> process refuses to make a
/// county node's certificate or to run a node for a county division, with exit code 2 (Usage) and a
/// message naming the article and the prefecture whose node the county uses.
/// </summary>
public sealed class CountyNodeTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task CertsNode_ForACounty_Exit2NamingArt21_NothingWritten()
    {
        var run = await GovShareProcess.RunAsync(_pki.Root, ["certs", "node", "--pki", _pki.Root, "--division", "530102"]);

        Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
        Assert.Contains("530102 is a county-level division", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("(Art. 21)", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("node 530100", run.Stderr, StringComparison.Ordinal);
        Assert.True(run.ShowsNoInternals, run.ToString());
        Assert.False(File.Exists(Path.Combine(_pki.Folder.IssuedFolder, "node-530102.crt")));
    }

    [Fact]
    public async Task CertsRootAndNode_National_MakeTheNationalNodesOwnPki()
    {
        var folder = Path.Combine(_pki.Root, "national");

        var root = await GovShareProcess.RunAsync(_pki.Root, ["certs", "root", "--pki", folder, "--division", "000000", "--name", "National GovShare Root CA (test)"]);
        var node = await GovShareProcess.RunAsync(_pki.Root, ["certs", "node", "--pki", folder, "--division", "000000"]);

        Assert.True(root.ExitCode == ExitCodes.Ok, root.ToString());
        Assert.True(node.ExitCode == ExitCodes.Ok, node.ToString());
        Assert.Contains("Key SHA-256 (for linking):", node.Stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(folder, "issued", "node-000000.crt")));
    }

    [Fact]
    public async Task NodeRun_ForACounty_Exit2NamingArt21()
    {
        var settings = TestNode.DefaultSettings(_pki, "530100");
        settings["Node:DivisionCode"] = "530102";
        await using var node = NodeProcess.Launch(settings, Loopback.FreePort());

        Assert.True(await node.WaitForExitAsync(NodeProcess.StopPatience), "the county node kept running");

        Assert.Equal(ExitCodes.Usage, node.Process.ExitCode);
        var output = string.Join('\n', node.Output);
        Assert.Contains("Node:DivisionCode: 530102 is a county-level division", output, StringComparison.Ordinal);
        Assert.Contains("(Art. 21)", output, StringComparison.Ordinal);
    }
}
