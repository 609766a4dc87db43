using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Identity;
using GovShare.Node.Pki;
using GovShare.Node.Tests.Functional;

namespace GovShare.Node.Tests.Pki;

public sealed class PkiFolderTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public void IssueDepartment_Certificate_HasIdentityClientAuthAndCrlPoint()
    {
        var department = _pki.IssueDepartment();
        var certificate = department.Certificate;

        Assert.Equal($"govshare:dept/530100/{department.CreditCode}", TrustMaterial.UriOf(certificate));
        var ekus = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value).ToList();
        Assert.Equal([LeafProfile.ClientAuth], ekus);
        Assert.Contains(certificate.Extensions, e => e.Oid?.Value == "2.5.29.31"); // CRL distribution points
        Assert.Equal(_pki.Folder.IssuerFor("530100").Certificate.Subject, certificate.Issuer);
    }

    [Fact]
    public void IssueNode_Certificate_HasServerAndClientAuth()
    {
        using var node = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(_pki.Folder.IssuedFolder, "node-530100.crt"));
        Assert.Equal("govshare:node/530100", TrustMaterial.UriOf(node));
        var ekus = node.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value).ToHashSet();
        Assert.Equal([LeafProfile.ServerAuth, LeafProfile.ClientAuth], ekus);
    }

    [Fact]
    public void PrivateKeys_AreWrittenOwnerOnly()
    {
        var department = _pki.IssueDepartment();
        foreach (var key in new[] { department.Files.KeyPath, Path.Combine(_pki.Root, "ca", "root", "ca.key"), Path.Combine(_pki.Root, "ca", "530100", "ca.key") })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        }
    }

    [Fact]
    public void IssueDepartment_KeyAlreadyExists_RefusesAndKeepsTheKey()
    {
        var department = _pki.IssueDepartment();
        var before = File.ReadAllText(department.Files.KeyPath);

        Assert.Throws<KeyExistsException>(() => _pki.IssueDepartment(creditCode: department.CreditCode));

        Assert.Equal(before, File.ReadAllText(department.Files.KeyPath));
    }

    [Fact]
    public void CreateRoot_Twice_Refused() =>
        Assert.Throws<KeyExistsException>(() => _pki.Folder.CreateRoot("530000", "again", DateTimeOffset.UtcNow));

    [Theory]
    [InlineData("530000")]
    [InlineData("520100")]
    [InlineData("5301")]
    public void CreateIntermediate_NotAPrefectureOfTheRoot_Refused(string division) =>
        Assert.Throws<ArgumentException>(() => _pki.Folder.CreateIntermediate(division, "x", DateTimeOffset.UtcNow));

    [Fact]
    public void IssueDepartment_InvalidCreditCode_Refused() =>
        Assert.Throws<ArgumentException>(() => _pki.IssueDepartment(creditCode: "11530100MB000001XX"));

    [Fact]
    public void Revoke_UnknownSerial_ReturnsNull() =>
        Assert.Null(_pki.Folder.Revoke("0123456789ABCDEF", DateTimeOffset.UtcNow));

    [Fact]
    public void Revoke_IssuedSerial_PublishesCrlListingIt()
    {
        var department = _pki.IssueDepartment();

        var ca = _pki.Folder.Revoke(department.Files.Serial, DateTimeOffset.UtcNow);

        Assert.NotNull(ca);
        var crl = new Org.BouncyCastle.X509.X509CrlParser().ReadCrl(File.ReadAllBytes(Path.Combine(_pki.Folder.CrlFolder, "530100.crl")));
        crl.Verify(new Org.BouncyCastle.X509.X509CertificateParser().ReadCertificate(ca.Certificate.RawData).GetPublicKey());
        Assert.Contains(crl.GetRevokedCertificates(), r => r.SerialNumber.ToString(16).Equals(department.Files.Serial.TrimStart('0'), StringComparison.OrdinalIgnoreCase));
    }
}
