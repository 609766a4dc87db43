using System.Security.Cryptography.X509Certificates;
using GovShare.Cli.Commands;
using GovShare.Node.Identity;
using GovShare.Node.Tests.Functional;

namespace GovShare.Node.Tests.Cli;

/// <summary>The certificate-lifecycle commands of deploy/README.md's runbooks, run as the operator runs them: the <c>govshare</c> process.</summary>
public sealed class TrustCommandsTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task CertsRenew_WritesANewCertificateOfTheSameIdentity_AndLeavesTheOld()
    {
        var department = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
        var oldPem = await File.ReadAllTextAsync(department.Files.CertificatePath);

        var run = await GovShareProcess.RunAsync(_pki.Root, ["certs", "renew", "--pki", _pki.Root, "--certificate", department.Files.CertificatePath, "--days", "90"]);

        Assert.True(run.ExitCode == ExitCodes.Ok, run.ToString());
        var renewed = Directory.GetFiles(_pki.Folder.IssuedFolder, $"dept-530100-{department.CreditCode}.renewed-*.crt").Single();
        Assert.Contains(renewed, run.Stdout, StringComparison.Ordinal);
        using var certificate = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(renewed));
        Assert.Equal(TrustMaterial.UriOf(department.Certificate), TrustMaterial.UriOf(certificate));
        Assert.InRange((certificate.NotAfter.ToUniversalTime() - DateTime.UtcNow).TotalDays, 89, 91);
        Assert.Equal(oldPem, await File.ReadAllTextAsync(department.Files.CertificatePath));

        var node = await GovShareProcess.RunAsync(_pki.Root, ["certs", "renew", "--pki", _pki.Root, "--certificate", Path.Combine(_pki.Folder.IssuedFolder, "node-530100.crt")]);
        Assert.True(node.ExitCode == ExitCodes.Ok, node.ToString());
        Assert.Contains("Key SHA-256 (for 'govshare node rekey'", node.Stdout, StringComparison.Ordinal);

        var missing = await GovShareProcess.RunAsync(_pki.Root, ["certs", "renew", "--pki", _pki.Root, "--certificate", Path.Combine(_pki.Root, "no-such.crt")]);
        Assert.Equal(ExitCodes.Usage, missing.ExitCode);
        Assert.True(missing.ShowsNoInternals, missing.ToString());
    }

    [Fact]
    public async Task NodeTrustAndRefreshCrl_ListTheDates_AfterANewCrlIsPublished()
    {
        await using var node = await TestNode.StartAsync(_pki);
        string[] Management(params string[] args) => [.. args, "--management", node.ManagementAddress.ToString(), "--data", node.DataPath];

        var trust = await GovShareProcess.RunAsync(_pki.Root, Management("node", "trust"));
        Assert.True(trust.ExitCode == ExitCodes.Ok, trust.ToString());
        Assert.Contains("NodeCertificate", trust.Stdout, StringComparison.Ordinal);
        Assert.Contains("\"Crl\"", trust.Stdout, StringComparison.Ordinal);
        // As an operator types it: on a terminal, the same dates.
        var onTerminal = await GovShareProcess.RunOnTerminalAsync(_pki.Root, Management("node", "trust"));
        Assert.True(onTerminal.ExitCode == ExitCodes.Ok, onTerminal.ToString());
        Assert.Contains("NodeCertificate", onTerminal.Stdout, StringComparison.Ordinal);
        Assert.True(onTerminal.ShowsNoInternals, onTerminal.ToString());

        _pki.Folder.PublishCrl(_pki.Folder.IssuerFor("530100"), DateTimeOffset.UtcNow, TimeSpan.FromDays(30));
        var refreshed = await GovShareProcess.RunAsync(_pki.Root, Management("node", "refresh-crl"));
        Assert.True(refreshed.ExitCode == ExitCodes.Ok, refreshed.ToString());
        Assert.Contains("Kunming", refreshed.Stdout, StringComparison.Ordinal);

        var unreachable = await GovShareProcess.RunAsync(_pki.Root, ["node", "refresh-crl", "--management", $"http://127.0.0.1:{Loopback.FreePort()}", "--data", node.DataPath]);
        Assert.Equal(ExitCodes.Unreachable, unreachable.ExitCode);
    }
}
