using System.Net;
using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;

namespace GovShare.Node.Pki;

/// <summary>
/// A development PKI on disk, laid out so a node can point its settings straight at it:
/// <code>
/// ca/root/            the provincial root CA (ca.crt, ca.key, state.json), or the national one (000000)
/// ca/&lt;division&gt;/     one intermediate CA per prefecture
/// trust-anchors.pem   the root: Node:TrustAnchors
/// intermediates.pem   every intermediate: Node:Intermediates
/// crl/&lt;ca&gt;.crl        one signed CRL per CA: Node:CrlPath
/// issued/             leaf certificates (chain included) and their keys
/// </code>
/// </summary>
public sealed class PkiFolder(string path)
{
    /// <summary>How long a published CRL is valid before it must be re-published.</summary>
    public static readonly TimeSpan CrlValidity = TimeSpan.FromDays(7);

    public string Path { get; } = System.IO.Path.GetFullPath(path);
    public string TrustAnchorsFile => System.IO.Path.Combine(Path, "trust-anchors.pem");
    public string IntermediatesFile => System.IO.Path.Combine(Path, "intermediates.pem");
    public string CrlFolder => System.IO.Path.Combine(Path, "crl");
    public string IssuedFolder => System.IO.Path.Combine(Path, "issued");

    private string CaFolder(string id) => System.IO.Path.Combine(Path, "ca", id);

    public bool HasRoot => File.Exists(System.IO.Path.Combine(CaFolder("root"), "ca.crt"));

    public bool HasIntermediate(string divisionCode) => File.Exists(System.IO.Path.Combine(CaFolder(divisionCode), "ca.crt"));

    public CertificateAuthority Root() => CertificateAuthority.Load(CaFolder("root"));

    /// <summary>
    /// Creates the provincial root CA and its first CRL; or, for <see cref="DivisionCode.National"/>, the
    /// national node's own root (the national PKI is not the province's: a province trusts it only for the
    /// national node, through <c>Upstream:ParentTrustAnchor</c>).
    /// </summary>
    public CertificateAuthority CreateRoot(string provinceDivision, string name, DateTimeOffset now)
    {
        if (!DivisionCode.IsProvince(provinceDivision) && !DivisionCode.IsNational(provinceDivision))
        {
            throw new ArgumentException($"'{provinceDivision}' is not a province-level division code (e.g. 530000) nor the national one ({DivisionCode.National}).", nameof(provinceDivision));
        }

        if (HasRoot)
        {
            throw new KeyExistsException(System.IO.Path.Combine(CaFolder("root"), "ca.key"));
        }

        var root = CertificateAuthority.CreateRoot(CaFolder("root"), provinceDivision, name, now, TimeSpan.FromDays(3650));
        PemFiles.WriteCertificates(TrustAnchorsFile, [root.Certificate]);
        PublishCrl(root, now);
        RefreshIntermediates();
        return root;
    }

    /// <summary>Creates a prefecture's intermediate CA under the root, and its first CRL.</summary>
    public CertificateAuthority CreateIntermediate(string prefectureDivision, string name, DateTimeOffset now)
    {
        var root = Root();
        if (!DivisionCode.IsValid(prefectureDivision) || DivisionCode.IsProvince(prefectureDivision) || !DivisionCode.IsWithin(prefectureDivision, root.DivisionCode))
        {
            throw new ArgumentException($"'{prefectureDivision}' is not a prefecture of {root.DivisionCode}.", nameof(prefectureDivision));
        }

        if (HasIntermediate(prefectureDivision))
        {
            throw new KeyExistsException(System.IO.Path.Combine(CaFolder(prefectureDivision), "ca.key"));
        }

        var ca = root.CreateIntermediate(CaFolder(prefectureDivision), prefectureDivision, name, now, TimeSpan.FromDays(1825));
        PublishCrl(ca, now);
        RefreshIntermediates();
        return ca;
    }

    /// <summary>The CA that issues for a division: its prefecture's intermediate, or the root for the province's own.</summary>
    public CertificateAuthority IssuerFor(string divisionCode)
    {
        var root = Root();
        if (!DivisionCode.IsWithin(divisionCode, root.DivisionCode))
        {
            throw new ArgumentException($"'{divisionCode}' is outside {root.DivisionCode}.", nameof(divisionCode));
        }

        if (DivisionCode.IsProvince(divisionCode) || divisionCode == root.DivisionCode)
        {
            return root;
        }

        var prefecture = divisionCode[..4] + "00";
        return HasIntermediate(prefecture)
            ? CertificateAuthority.Load(CaFolder(prefecture))
            : throw new InvalidOperationException($"No intermediate CA for prefecture {prefecture}: run 'govshare certs intermediate --division {prefecture}' first.");
    }

    /// <summary>Issues a department certificate and writes <c>issued/dept-&lt;division&gt;-&lt;code&gt;.crt/.key</c>.</summary>
    public IssuedFiles IssueDepartment(string divisionCode, string creditCode, string name, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        if (!CreditCode.IsValid(creditCode))
        {
            throw new ArgumentException($"'{creditCode}' is not a valid unified social credit code (18 characters, check character last).", nameof(creditCode));
        }

        var issuer = IssuerFor(divisionCode);
        return Write($"dept-{divisionCode}-{creditCode}", issuer, LeafProfile.Department(divisionCode, creditCode, name, notBefore, notAfter));
    }

    /// <summary>
    /// Issues a node certificate from the root (a node vouches for departments across the tree, so
    /// only the root speaks for nodes) and writes <c>issued/node-&lt;division&gt;.crt/.key</c>.
    /// </summary>
    public IssuedFiles IssueNode(string divisionCode, DateTimeOffset notBefore, DateTimeOffset notAfter, IReadOnlyList<string> dnsNames, IReadOnlyList<IPAddress> ipAddresses)
    {
        var root = Root();
        if (!DivisionCode.IsWithin(divisionCode, root.DivisionCode))
        {
            throw new ArgumentException($"'{divisionCode}' is outside {root.DivisionCode}.", nameof(divisionCode));
        }

        if (DivisionCode.IsCounty(divisionCode))
        {
            throw new ArgumentException($"{divisionCode} is a county-level division: counties build no platform of their own and use their prefecture's (Art. 21), so no node certificate is issued for it; issue one for node {DivisionCode.PrefectureOf(divisionCode)}.", nameof(divisionCode));
        }

        return Write($"node-{divisionCode}", root, LeafProfile.ForNode(divisionCode, notBefore, notAfter, dnsNames, ipAddresses));
    }

    /// <summary>
    /// Issues an operator's client certificate from the CA of the operator's division and writes
    /// <c>issued/operator-&lt;division&gt;-&lt;id&gt;.crt/.key</c>.
    /// </summary>
    public IssuedFiles IssueOperator(string divisionCode, string operatorId, string name, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        if (!CallerIdentity.IsOperatorId(operatorId))
        {
            throw new ArgumentException($"'{operatorId}' is not an operator id (1-64 of a-z, 0-9, '.', '_', '-').", nameof(operatorId));
        }

        var issuer = IssuerFor(divisionCode);
        return Write($"operator-{divisionCode}-{operatorId}", issuer, LeafProfile.Operator(divisionCode, operatorId, name, notBefore, notAfter));
    }

    /// <summary>Issues any profile (tests use this for deliberately bad certificates) under the given file name.</summary>
    public IssuedFiles Issue(string fileName, CertificateAuthority issuer, LeafProfile profile) => Write(fileName, issuer, profile);

    /// <summary>Revokes a serial at whichever CA issued it and re-publishes that CA's CRL.</summary>
    /// <returns>The CA that revoked it; null when no CA here issued the serial.</returns>
    public CertificateAuthority? Revoke(string serialHex, DateTimeOffset now)
    {
        foreach (var ca in AllAuthorities())
        {
            if (ca.Revoke(serialHex, now))
            {
                PublishCrl(ca, now);
                return ca;
            }
        }

        return null;
    }

    /// <summary>Signs a fresh CRL for the CA and writes it to <c>crl/&lt;ca&gt;.crl</c>.</summary>
    public string PublishCrl(CertificateAuthority ca, DateTimeOffset now, TimeSpan? validity = null)
    {
        Directory.CreateDirectory(CrlFolder);
        var path = System.IO.Path.Combine(CrlFolder, $"{ca.Id}.crl");
        PemFiles.WriteCrl(path, ca.BuildCrl(now, validity ?? CrlValidity));
        return path;
    }

    /// <summary>Every CA in the folder, root first.</summary>
    public IEnumerable<CertificateAuthority> AllAuthorities()
    {
        if (!HasRoot)
        {
            yield break;
        }

        yield return Root();
        foreach (var folder in Directory.EnumerateDirectories(System.IO.Path.Combine(Path, "ca")).Order(StringComparer.Ordinal))
        {
            if (System.IO.Path.GetFileName(folder) != "root")
            {
                yield return CertificateAuthority.Load(folder);
            }
        }
    }

    /// <summary>
    /// Re-issues a department, node or operator certificate with the same identity — same subject, same
    /// SAN (identity URI, DNS names, IP addresses), same EKUs, same issuing CA — and a new key, valid from
    /// <paramref name="notBefore"/> to <paramref name="notAfter"/>. Writes <c>issued/&lt;old name&gt;.renewed-&lt;UTC time&gt;.crt/.key</c>
    /// beside the old files, which it leaves as they are: the old certificate keeps working until it expires
    /// or is revoked (<see cref="Revoke"/>), so the holder can switch when ready.
    /// </summary>
    /// <exception cref="ArgumentException">The file holds no GovShare leaf certificate, or none issued by a CA of this folder.</exception>
    public IssuedFiles Renew(string certificatePath, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var old = X509Certificate2.CreateFromPem(File.ReadAllText(certificatePath));
        var uri = TrustMaterial.UriOf(old)
            ?? throw new ArgumentException($"'{certificatePath}' has no GovShare identity (a govshare: SAN URI): it is not a department, node or operator certificate.", nameof(certificatePath));
        if (old.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority))
        {
            throw new ArgumentException($"'{certificatePath}' is a CA certificate; rotate a CA as deploy/README.md describes.", nameof(certificatePath));
        }

        var issuer = AllAuthorities().FirstOrDefault(ca => ca.Certificate.SubjectName.RawData.AsSpan().SequenceEqual(old.IssuerName.RawData) && SignedBy(old, ca.Certificate))
            ?? throw new ArgumentException($"'{certificatePath}' was not issued by a CA of {Path} (issuer '{old.Issuer}').", nameof(certificatePath));
        if (!issuer.Issued(old.SerialNumber))
        {
            throw new ArgumentException($"'{certificatePath}' (serial {old.SerialNumber}) is not in the issuance record of '{issuer.Certificate.Subject}'.", nameof(certificatePath));
        }

        var san = old.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        var ekus = old.Extensions.OfType<X509EnhancedKeyUsageExtension>().SelectMany(e => e.EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>()).Select(o => o.Value!).ToList();
        var profile = new LeafProfile(old.Subject, uri, ekus, notBefore, notAfter, [.. san.EnumerateDnsNames()], [.. san.EnumerateIPAddresses()])
        {
            EncodedSubject = new X500DistinguishedName(old.SubjectName.RawData),
        };
        var name = System.IO.Path.GetFileNameWithoutExtension(certificatePath);
        return Write($"{name}.renewed-{notBefore.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture)}", issuer, profile);
    }

    private static bool SignedBy(X509Certificate2 certificate, X509Certificate2 issuer)
    {
        // Only the signature matters: an expired certificate may still be renewed by its CA.
        var parser = new Org.BouncyCastle.X509.X509CertificateParser();
        try
        {
            parser.ReadCertificate(certificate.RawData).Verify(parser.ReadCertificate(issuer.RawData).GetPublicKey());
            return true;
        }
        catch (Exception ex) when (ex is Org.BouncyCastle.Security.InvalidKeyException or Org.BouncyCastle.Security.SignatureException or Org.BouncyCastle.Security.Certificates.CertificateException)
        {
            return false;
        }
    }

    private IssuedFiles Write(string fileName, CertificateAuthority issuer, LeafProfile profile)
    {
        Directory.CreateDirectory(IssuedFolder);
        var keyPath = System.IO.Path.Combine(IssuedFolder, fileName + ".key");
        var certPath = System.IO.Path.Combine(IssuedFolder, fileName + ".crt");
        if (File.Exists(keyPath))
        {
            throw new KeyExistsException(keyPath);
        }

        using var issued = issuer.Issue(profile);
        PemFiles.WritePrivateKey(keyPath, issued.GetECDsaPrivateKey()!);
        var chain = new List<X509Certificate2> { issued };
        if (issuer.Id != "root")
        {
            chain.Add(issuer.Certificate);
        }

        PemFiles.WriteCertificates(certPath, chain);
        return new IssuedFiles(certPath, keyPath, issued.SerialNumber);
    }

    private void RefreshIntermediates()
    {
        var intermediates = AllAuthorities().Where(ca => ca.Id != "root").Select(ca => ca.Certificate).ToList();
        PemFiles.WriteCertificates(IntermediatesFile, intermediates);
    }
}

/// <summary>Where an issued certificate and its key were written, and its serial (hex).</summary>
public sealed record IssuedFiles(string CertificatePath, string KeyPath, string Serial);
