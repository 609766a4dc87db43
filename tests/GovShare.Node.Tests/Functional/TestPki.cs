using System.Net;
using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Identity;
using GovShare.Node.Pki;

namespace GovShare.Node.Tests.Functional;

/// <summary>
/// A real development PKI in a temporary folder: the Yunnan root, prefecture intermediates
/// and node certificates (from the root) for 530000, 530100 and 530300. Certificates for departments are
/// issued on demand, each a real key pair.
/// </summary>
public sealed class TestPki : IDisposable
{
    private static int _counter;

    public TestPki()
        : this(national: false)
    {
    }

    private TestPki(bool national)
    {
        Root = Path.Combine(Path.GetTempPath(), "govshare-tests", $"pki-{Environment.ProcessId}-{Interlocked.Increment(ref _counter)}-{Guid.NewGuid():N}");
        Folder = new PkiFolder(Root);
        var now = DateTimeOffset.UtcNow;
        // CAs made "last year", so tests can issue certificates that have already expired.
        var past = now.AddDays(-365);
        if (national)
        {
            // The national node's own PKI (Art. 21): not the province's; a province trusts it only for govshare:node/000000.
            Folder.CreateRoot("000000", "National GovShare Root CA (test)", past);
            Folder.PublishCrl(Folder.Root(), now);
            Folder.IssueNode("000000", now.AddMinutes(-5), now.AddDays(30), ["localhost"], [IPAddress.Loopback]);
            return;
        }

        Folder.CreateRoot("530000", "Yunnan Province GovShare Root CA (test)", past);
        Folder.CreateIntermediate("530100", "Kunming GovShare CA (test)", past);
        Folder.CreateIntermediate("530300", "Qujing GovShare CA (test)", past);
        foreach (var ca in Folder.AllAuthorities())
        {
            Folder.PublishCrl(ca, now);
        }

        foreach (var division in new[] { "530000", "530100", "530300" })
        {
            Folder.IssueNode(division, now.AddMinutes(-5), now.AddDays(30), ["localhost"], [IPAddress.Loopback]);
        }
    }

    /// <summary>A national PKI: its own root (<c>govshare:ca/000000</c>) and the national node's certificate (<c>node-000000</c>).</summary>
    public static TestPki National() => new(national: true);

    /// <summary>The root CA's certificate file.</summary>
    public string RootCertificateFile => Path.Combine(Root, "ca", "root", "ca.crt");

    public string Root { get; }
    public PkiFolder Folder { get; }

    /// <summary>A fresh, valid credit code for a test department.</summary>
    public static string NewCreditCode()
    {
        const string alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
        var body = "11" + string.Concat(Enumerable.Range(0, 15).Select(_ => alphabet[Random.Shared.Next(alphabet.Length)]));
        return CreditCode.Complete(body);
    }

    /// <summary>Issues a department certificate and loads it with its key, ready for a TLS client.</summary>
    public TestDepartment IssueDepartment(string division = "530100", string? creditCode = null, string name = "Test Bureau", DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        var code = creditCode ?? NewCreditCode();
        var now = DateTimeOffset.UtcNow;
        var files = Folder.IssueDepartment(division, code, name, notBefore ?? now.AddMinutes(-5), notAfter ?? now.AddDays(30));
        return new TestDepartment(division, code, name, Load(files), files);
    }

    /// <summary>Issues an arbitrary profile (wrong EKU, odd SAN …) from the CA of <paramref name="division"/>.</summary>
    public TestDepartment IssueCustom(string fileName, LeafProfile profile, string division = "530100")
    {
        var files = Folder.Issue(fileName, Folder.IssuerFor(division), profile);
        return new TestDepartment(division, "", "custom", Load(files), files);
    }

    /// <summary>Issues an arbitrary profile from a named CA: <c>root</c> or a prefecture's division (how an overreaching CA is played).</summary>
    public TestDepartment IssueFrom(string caId, string fileName, LeafProfile profile)
    {
        var issuer = Folder.AllAuthorities().Single(ca => ca.Id == caId);
        var files = Folder.Issue(fileName, issuer, profile);
        return new TestDepartment(profile.IdentityUri, "", "custom", Load(files), files);
    }

    /// <summary>Another valid node certificate for <paramref name="division"/>, from the root, with a new key (a re-keyed node, or an impostor with a stolen issuance).</summary>
    public X509Certificate2 IssueAnotherNodeCertificate(string division, string fileName)
    {
        var now = DateTimeOffset.UtcNow;
        return Load(Folder.Issue(fileName, Folder.Root(), LeafProfile.ForNode(division, now.AddMinutes(-5), now.AddDays(30), ["localhost"], [IPAddress.Loopback])));
    }

    /// <summary>Issues an operator certificate (from the CA of <paramref name="division"/>) and loads it with its key.</summary>
    public TestDepartment IssueOperator(string division, string id, string name = "Test Operator")
    {
        var now = DateTimeOffset.UtcNow;
        var files = Folder.IssueOperator(division, id, name, now.AddMinutes(-5), now.AddDays(30));
        return new TestDepartment(division, "", name, Load(files), files);
    }

    /// <summary>The SHA-256 of the test node's key: what a link to it pins.</summary>
    public string NodeKey(string division)
    {
        using var certificate = NodeCertificate(division);
        return TrustMaterial.SpkiSha256(certificate);
    }

    /// <summary>The certificate (with key) of the test node of <paramref name="division"/>.</summary>
    public X509Certificate2 NodeCertificate(string division) =>
        Load(new IssuedFiles(Path.Combine(Folder.IssuedFolder, $"node-{division}.crt"), Path.Combine(Folder.IssuedFolder, $"node-{division}.key"), ""));

    public static X509Certificate2 Load(IssuedFiles files)
    {
        using var pem = X509Certificate2.CreateFromPemFile(files.CertificatePath, files.KeyPath);
        // A PKCS#12 round trip gives a key SslStream can use on every platform.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
    }
}

/// <summary>A department with its client certificate.</summary>
public sealed record TestDepartment(string Division, string CreditCode, string Name, X509Certificate2 Certificate, IssuedFiles Files);
