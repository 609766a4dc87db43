using GovShare.Cli.Commands;
using GovShare.Node.Identity;
using GovShare.Node.Pki;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Cli;

/// <summary>The operator's commands, as a script calls them: exit codes that mean what they say, nothing half-done.</summary>
public sealed class OperatorCommandsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("govshare-cli-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static Task<int> Run(params string[] args) => GovShareCommand.Create().Parse(args).InvokeAsync();

    [Fact]
    public async Task Certs_WholeHierarchy_ThenRevoke_CrlListsTheSerial()
    {
        var pki = Path.Combine(_folder, "pki");
        var code = TestPki.NewCreditCode();

        Assert.Equal(ExitCodes.Ok, await Run("certs", "root", "--pki", pki));
        Assert.Equal(ExitCodes.Ok, await Run("certs", "intermediate", "--pki", pki, "--division", "530100"));
        Assert.Equal(ExitCodes.Ok, await Run("certs", "node", "--pki", pki, "--division", "530100"));
        Assert.Equal(ExitCodes.Ok, await Run("certs", "dept", "--pki", pki, "--division", "530102", "--credit-code", code, "--name", "Wuhua District Bureau"));

        using var issued = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(Path.Combine(pki, "issued", $"dept-530102-{code}.crt"));
        Assert.Equal("govshare:dept/530102/" + code, TrustMaterial.UriOf(issued));
        Assert.Empty(new PkiFolder(pki).IssuerFor("530102").Revoked);

        Assert.Equal(ExitCodes.Ok, await Run("certs", "revoke", "--pki", pki, "--serial", issued.SerialNumber));

        // Each CA names its division; node certificates come from the root, operators' from their division's CA.
        var folder = new PkiFolder(pki);
        Assert.Equal("530000", AuthorityScope.DivisionOf(folder.Root().Certificate));
        Assert.Equal("530100", AuthorityScope.DivisionOf(folder.IssuerFor("530102").Certificate));
        using var node = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(Path.Combine(pki, "issued", "node-530100.crt"));
        Assert.Equal(folder.Root().Certificate.Subject, node.Issuer);
        Assert.Equal(ExitCodes.Ok, await Run("certs", "operator", "--pki", pki, "--division", "530100", "--id", "zhang.wei", "--name", "Zhang Wei"));
        using var person = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(Path.Combine(pki, "issued", "operator-530100-zhang.wei.crt"));
        Assert.Equal("govshare:operator/530100/zhang.wei", TrustMaterial.UriOf(person));
        Assert.Equal(folder.IssuerFor("530100").Certificate.Subject, person.Issuer);

        Assert.Contains(new PkiFolder(pki).IssuerFor("530102").Revoked, r => string.Equals(r.Serial, issued.SerialNumber, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Certs_RefusalsHaveTheirExitCodes_AndKeepExistingKeys()
    {
        var pki = Path.Combine(_folder, "pki");

        Assert.Equal(ExitCodes.Usage, await Run("certs", "intermediate", "--pki", pki, "--division", "530100")); // no root yet
        Assert.Equal(ExitCodes.Ok, await Run("certs", "root", "--pki", pki));
        var rootKey = File.ReadAllText(Path.Combine(pki, "ca", "root", "ca.key"));
        Assert.Equal(ExitCodes.Failed, await Run("certs", "root", "--pki", pki)); // never overwrites a key
        Assert.Equal(rootKey, File.ReadAllText(Path.Combine(pki, "ca", "root", "ca.key")));
        Assert.Equal(ExitCodes.Usage, await Run("certs", "intermediate", "--pki", pki, "--division", "520100")); // not in Yunnan
        Assert.Equal(ExitCodes.Usage, await Run("certs", "dept", "--pki", pki, "--division", "530100", "--credit-code", TestPki.NewCreditCode(), "--name", "x")); // no intermediate
        Assert.Equal(ExitCodes.Usage, await Run("certs", "operator", "--pki", pki, "--division", "530100", "--id", "zhang.wei", "--name", "x")); // no intermediate
        Assert.Equal(ExitCodes.Usage, await Run("certs", "operator", "--pki", pki, "--division", "530000", "--id", "Zhang Wei", "--name", "x")); // not an id
        Assert.Equal(ExitCodes.Ok, await Run("certs", "node", "--pki", pki, "--division", "530100")); // from the root: no intermediate needed
        Assert.Equal(ExitCodes.Usage, await Run("certs", "dept", "--pki", pki, "--division", "530000", "--credit-code", "not-a-code", "--name", "x"));
        Assert.Equal(ExitCodes.Usage, await Run("certs", "revoke", "--pki", pki, "--serial", "00DEADBEEF"));
        Assert.Equal(ExitCodes.Usage, await Run("certs", "node", "--pki", pki, "--division", "530000", "--ip", "not-an-ip"));
    }

    [Fact]
    public async Task Dept_AgainstARealNode_RegisterListRemove_AndRefusals()
    {
        using var pki = new TestPki();
        await using var node = await TestNode.StartAsync(pki);
        var management = node.ManagementAddress.ToString();
        var code = TestPki.NewCreditCode();

        Assert.Equal(ExitCodes.Ok, await Run("dept", "register", "--data", node.DataPath, "--management", management, "--division", "530100", "--credit-code", code, "--name", "Kunming Bureau of Statistics"));
        Assert.True(node.Services.GetRequiredService<DepartmentRegistry>().IsRegistered(CallerIdentity.Department("530100", code)));
        Assert.Equal(ExitCodes.Failed, await Run("dept", "register", "--data", node.DataPath, "--management", management, "--division", "5301", "--credit-code", "x", "--name", "y"));
        Assert.Equal(ExitCodes.Ok, await Run("dept", "list", "--data", node.DataPath, "--management", management));
        Assert.Equal(ExitCodes.Ok, await Run("dept", "remove", code, "--data", node.DataPath, "--management", management));
        Assert.Equal(ExitCodes.Failed, await Run("dept", "remove", code, "--data", node.DataPath, "--management", management));
        Assert.Equal(ExitCodes.Usage, await Run("dept", "list", "--data", Path.Combine(_folder, "no-such-node"), "--management", management));
        Assert.Equal(ExitCodes.Unreachable, await Run("dept", "list", "--data", node.DataPath, "--management", "http://127.0.0.1:1"));
    }
}
