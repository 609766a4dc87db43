using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Serialization;
using GovShare.Node.Identity;

namespace GovShare.Node.Pki;

/// <summary>
/// One certificate authority of the GovShare PKI — the provincial root or a prefecture
/// intermediate — kept in a folder: <c>ca.crt</c>, <c>ca.key</c> (mode 0600) and
/// <c>state.json</c> (next CRL number, issued and revoked serials).
/// Development tooling: production CAs live in an HSM-backed PKI that issues the same profiles.
/// </summary>
public sealed partial class CertificateAuthority
{
    private readonly string _folder;
    private readonly CaState _state;

    private CertificateAuthority(string folder, X509Certificate2 certificate, CaState state)
    {
        _folder = folder;
        Certificate = certificate;
        _state = state;
    }

    /// <summary>The CA certificate with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The division code the CA serves (the root: the province's).</summary>
    public string DivisionCode => _state.DivisionCode;

    /// <summary>Where relying parties find this CA's CRL, placed in every certificate it issues.</summary>
    public string CrlDistributionPoint => $"govshare:crl/{_state.Id}";

    /// <summary>"root" or the division code of an intermediate.</summary>
    public string Id => _state.Id;

    public IReadOnlyList<RevokedSerial> Revoked => _state.Revoked;

    /// <summary>Creates a self-signed provincial root CA in <paramref name="folder"/>; refuses to overwrite.</summary>
    public static CertificateAuthority CreateRoot(string folder, string divisionCode, string name, DateTimeOffset now, TimeSpan validity)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}, O=GovShare, C=CN"), key, HashAlgorithmName.SHA384);
        AddCaExtensions(request, pathLength: 1, divisionCode);
        using var self = request.CreateSelfSigned(now.AddMinutes(-5), now.Add(validity));
        return Persist(folder, self, key, new CaState { Id = "root", DivisionCode = divisionCode });
    }

    /// <summary>Creates an intermediate CA for a prefecture, signed by this (root) CA.</summary>
    public CertificateAuthority CreateIntermediate(string folder, string divisionCode, string name, DateTimeOffset now, TimeSpan validity)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}, O=GovShare, C=CN"), key, HashAlgorithmName.SHA384);
        AddCaExtensions(request, pathLength: 0, divisionCode);
        request.CertificateExtensions.Add(CertificateRevocationListBuilder.BuildCrlDistributionPointExtension([CrlDistributionPoint]));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        var notAfter = Min(now.Add(validity), Certificate.NotAfter);
        using var signed = request.Create(Certificate, now.AddMinutes(-5), notAfter, NextSerial());
        using var withKey = signed.CopyWithPrivateKey(key);
        var ca = Persist(folder, withKey, key, new CaState { Id = divisionCode, DivisionCode = divisionCode });
        Record(signed, $"intermediate {divisionCode}");
        return ca;
    }

    /// <summary>Loads a CA from its folder.</summary>
    public static CertificateAuthority Load(string folder)
    {
        var certificate = X509Certificate2.CreateFromPemFile(Path.Combine(folder, "ca.crt"), Path.Combine(folder, "ca.key"));
        var state = JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(folder, "state.json")), CaStateJson.Default.CaState)
            ?? throw new InvalidDataException($"{folder}/state.json is empty.");
        return new CertificateAuthority(folder, certificate, state);
    }

    /// <summary>Issues a leaf certificate to the profile; the caller writes it out.</summary>
    public X509Certificate2 Issue(LeafProfile profile)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(profile.EncodedSubject ?? new X500DistinguishedName(profile.Subject), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        var ekus = new OidCollection();
        foreach (var eku in profile.ExtendedKeyUsages)
        {
            ekus.Add(new Oid(eku));
        }

        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(ekus, false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(profile.IdentityUri));
        foreach (var dns in profile.DnsNames)
        {
            san.AddDnsName(dns);
        }

        foreach (var ip in profile.IpAddresses)
        {
            san.AddIpAddress(ip);
        }

        request.CertificateExtensions.Add(san.Build(true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        request.CertificateExtensions.Add(CertificateRevocationListBuilder.BuildCrlDistributionPointExtension([CrlDistributionPoint]));
        using var signed = request.Create(Certificate, profile.NotBefore, profile.NotAfter, NextSerial());
        Record(signed, profile.IdentityUri);
        return signed.CopyWithPrivateKey(key);
    }

    /// <summary>Marks a serial (hex) as revoked; publish a CRL afterwards for it to take effect.</summary>
    /// <returns>False when this CA never issued the serial.</returns>
    public bool Revoke(string serialHex, DateTimeOffset at)
    {
        var serial = serialHex.ToUpperInvariant();
        if (!_state.Issued.Any(i => i.Serial == serial))
        {
            return false;
        }

        if (!_state.Revoked.Any(r => r.Serial == serial))
        {
            _state.Revoked.Add(new RevokedSerial(serial, at));
            Save();
        }

        return true;
    }

    /// <summary>True when this CA issued the serial (hex).</summary>
    public bool Issued(string serialHex) => _state.Issued.Any(i => string.Equals(i.Serial, serialHex, StringComparison.OrdinalIgnoreCase));

    /// <summary>Builds and signs the next CRL (DER), valid from <paramref name="now"/> for <paramref name="validity"/>.</summary>
    public byte[] BuildCrl(DateTimeOffset now, TimeSpan validity)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (var revoked in _state.Revoked)
        {
            builder.AddEntry(Convert.FromHexString(revoked.Serial), revoked.At, X509RevocationReason.Unspecified);
        }

        var number = new BigInteger(_state.NextCrlNumber++);
        Save();
        return builder.Build(Certificate, number, now.Add(validity), HashAlgorithmName.SHA384, rsaSignaturePadding: null, thisUpdate: now);
    }

    private static void AddCaExtensions(CertificateRequest request, int pathLength, string divisionCode)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, pathLength, true));
        // The division this CA speaks for, in the CA certificate itself: a node bounds every leaf
        // the CA issues by it and never takes a leaf's word for its own scope.
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(AuthorityScope.CaUri(divisionCode)));
        request.CertificateExtensions.Add(san.Build(false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTime b)
    {
        var other = new DateTimeOffset(b.ToUniversalTime(), TimeSpan.Zero);
        return a < other ? a : other;
    }

    private static CertificateAuthority Persist(string folder, X509Certificate2 certificate, ECDsa key, CaState state)
    {
        Directory.CreateDirectory(folder);
        PemFiles.WritePrivateKey(Path.Combine(folder, "ca.key"), key);
        PemFiles.WriteCertificates(Path.Combine(folder, "ca.crt"), [certificate]);
        var ca = new CertificateAuthority(folder, X509Certificate2.CreateFromPemFile(Path.Combine(folder, "ca.crt"), Path.Combine(folder, "ca.key")), state);
        ca.Save();
        return ca;
    }

    private static byte[] NextSerial()
    {
        // 16 random bytes with the top bit clear: positive and unguessable (CA/B BR 7.1).
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        serial[0] |= 0x01;
        return serial;
    }

    private void Record(X509Certificate2 issued, string identity)
    {
        _state.Issued.Add(new IssuedSerial(issued.SerialNumber.ToUpperInvariant(), identity, issued.NotAfter.ToUniversalTime()));
        Save();
    }

    private void Save()
    {
        var path = Path.Combine(_folder, "state.json");
        var temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(_state, CaStateJson.Default.CaState));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>state.json, without reflection: `govshare certs` runs in the Native AOT department tool too.</summary>
    [JsonSerializable(typeof(CaState))]
    [JsonSourceGenerationOptions(WriteIndented = true)]
    private sealed partial class CaStateJson : JsonSerializerContext;

    private sealed class CaState
    {
        public string Id { get; set; } = "";
        public string DivisionCode { get; set; } = "";
        public long NextCrlNumber { get; set; } = 1;
        public List<IssuedSerial> Issued { get; set; } = [];
        public List<RevokedSerial> Revoked { get; set; } = [];
    }
}

/// <summary>A serial this CA issued.</summary>
public sealed record IssuedSerial(string Serial, string Identity, DateTime NotAfter);

/// <summary>A serial this CA revoked.</summary>
public sealed record RevokedSerial(string Serial, DateTimeOffset At);
