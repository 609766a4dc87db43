using System.Numerics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Org.BouncyCastle.X509;

namespace GovShare.Node.Identity;

/// <summary>
/// The CRLs the node holds, one per CA, read from a folder. A CRL counts only when its
/// signature verifies against a CA the node knows and it is not past nextUpdate plus the
/// grace; a CA without such a CRL makes every certificate it issued fail closed.
/// The folder is re-read when a file in it changes, so a replaced CRL takes effect without
/// restart. .NET's own offline revocation mode is not used: it reads a private cache,
/// accepts expired CRLs and keeps a CRL until its nextUpdate.
/// </summary>
public sealed partial class CrlStore
{
    private static readonly TimeSpan RescanInterval = TimeSpan.FromSeconds(1);
    private const int MaxRememberedIssuers = 16_384;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, X509Certificate2?> _issuers = new(StringComparer.Ordinal);
    private readonly string _folder;
    private readonly TimeSpan _grace;
    private readonly TimeProvider _time;
    private readonly ILogger<CrlStore> _logger;
    private readonly IReadOnlyList<(X509Certificate2 Net, Org.BouncyCastle.X509.X509Certificate Bc)> _authorities;
    private readonly Lock _gate = new();
    private Snapshot _snapshot = Snapshot.Empty;
    private DateTimeOffset _lastScan = DateTimeOffset.MinValue;
    private static readonly RevocationVerdict Good = new(RevocationStatus.Good, null);
    private readonly ConditionalWeakTable<X509Certificate2, Known> _known = new();

    /// <summary>Each CA's thumbprint (the snapshot's key), computed once rather than per request.</summary>
    private readonly Dictionary<X509Certificate2, string> _thumbprints;

    public CrlStore(string folder, TimeSpan grace, IEnumerable<X509Certificate2> authorities, TimeProvider time, ILogger<CrlStore> logger)
    {
        _folder = folder;
        _grace = grace;
        _time = time;
        _logger = logger;
        var parser = new X509CertificateParser();
        _authorities = authorities.Select(a => (a, parser.ReadCertificate(a.RawData))).ToList();
        _thumbprints = new Dictionary<X509Certificate2, string>(ReferenceEqualityComparer.Instance);
        foreach (var (net, _) in _authorities)
        {
            _thumbprints[net] = net.Thumbprint;
        }
        Refresh(force: true);
    }

    /// <summary>The verdict on one certificate against its issuer's CRL.</summary>
    public RevocationVerdict Check(X509Certificate2 certificate, X509Certificate2 issuer)
    {
        Refresh(force: false);
        var until = DateTimeOffset.MaxValue;
        return Check(Volatile.Read(ref _snapshot), _time.GetUtcNow(), certificate, Serial(certificate), issuer, ref until);
    }

    /// <summary>The verdict on one level; a good one lowers <paramref name="until"/> to the instant its CRL stops counting.</summary>
    private RevocationVerdict Check(Snapshot snapshot, DateTimeOffset now, X509Certificate2 certificate, BigInteger serial, X509Certificate2 issuer, ref DateTimeOffset until)
    {
        var thumbprint = _thumbprints.TryGetValue(issuer, out var known) ? known : issuer.Thumbprint;
        if (!snapshot.ByIssuer.TryGetValue(thumbprint, out var crl))
        {
            return new RevocationVerdict(RevocationStatus.Unknown, $"no valid CRL is held for the issuing CA '{issuer.Subject}'");
        }

        if (crl.NextUpdate is { } next && now > next + _grace)
        {
            return new RevocationVerdict(RevocationStatus.Unknown, $"the CRL of '{issuer.Subject}' expired at {next:u} (grace {_grace})");
        }

        if (crl.Revoked.Contains(serial))
        {
            return new RevocationVerdict(RevocationStatus.Revoked, $"serial {certificate.SerialNumber} is revoked by '{issuer.Subject}'");
        }

        if (crl.NextUpdate is { } stale && stale + _grace < until)
        {
            until = stale + _grace;
        }

        return Good;
    }

    private static BigInteger Serial(X509Certificate2 certificate) =>
        new(certificate.SerialNumberBytes.Span, isUnsigned: true, isBigEndian: true);

    /// <summary>
    /// The verdict on a certificate's whole chain: the leaf against its issuer's CRL, each
    /// intermediate against the root's, up to a root (whose trust is configuration). Cheap on
    /// every request: issuers are remembered per certificate, CRLs are hash sets in memory.
    /// </summary>
    public RevocationVerdict CheckChain(X509Certificate2 leaf)
    {
        // One CRL snapshot and one clock reading for the whole chain.
        Refresh(force: false);
        var snapshot = Volatile.Read(ref _snapshot);
        var now = _time.GetUtcNow();
        var leafKnown = KnownOf(leaf);
        // A kept-alive connection asks about the same certificate object on every request: its good
        // verdict is remembered on that object for the CRL snapshot it was read from, until the
        // first of the chain's CRLs runs out (nextUpdate + grace). A replaced CRL is a new snapshot
        // (Refresh, above, still runs per request), so a revocation reaches the next request as
        // before; a CRL going stale ends the memo at that instant, as the per-level check would.
        // Only a good verdict is remembered; a refusal is decided each time.
        if (Volatile.Read(ref leafKnown.Good) is { } held && ReferenceEquals(held.Snapshot, snapshot) && now <= held.Until)
        {
            return Good;
        }

        var current = leaf;
        var known = leafKnown;
        var until = DateTimeOffset.MaxValue;
        for (var depth = 0; depth < 8 && known.Issuer is { } issuer && !ReferenceEquals(issuer, current); depth++)
        {
            var verdict = Check(snapshot, now, current, known.Serial, issuer, ref until);
            if (verdict.Status != RevocationStatus.Good)
            {
                return verdict;
            }

            var issuers = KnownOf(issuer);
            if (issuers.SelfIssued)
            {
                break;
            }

            current = issuer;
            known = issuers;
        }

        Volatile.Write(ref leafKnown.Good, new GoodChain(snapshot, until));
        return Good;
    }

    /// <summary>
    /// Each known CA with the CRL held for it (number and nextUpdate; null when none is held), as of now.
    /// With <paramref name="reread"/>, the CRL folder is read again first, whatever its files' stamps say
    /// (the operator's <c>govshare node crl refresh</c>).
    /// </summary>
    public IReadOnlyList<HeldCrlInfo> Held(bool reread = false)
    {
        Refresh(force: reread);
        var snapshot = Volatile.Read(ref _snapshot);
        return [.. _authorities.Select(a => snapshot.ByIssuer.TryGetValue(a.Net.Thumbprint, out var crl)
            ? new HeldCrlInfo(a.Net, crl.Number, crl.NextUpdate)
            : new HeldCrlInfo(a.Net, null, null))];
    }

    /// <summary>The issuer of <paramref name="certificate"/> among the known CAs, or null.</summary>
    public X509Certificate2? IssuerOf(X509Certificate2 certificate) => KnownOf(certificate).Issuer;

    /// <summary>
    /// What the chain check needs of a certificate object, found by reference: a connection presents
    /// one certificate object for all its requests and the CAs are fixed objects, so a kept-alive
    /// connection's requests neither hash a certificate (SHA-256 and a hex key per level) nor parse
    /// its serial again. The entry dies with the object; a new object (a new connection) goes
    /// through <see cref="FindIssuer"/>'s table, keyed by the certificate's bytes.
    /// </summary>
    private Known KnownOf(X509Certificate2 certificate)
    {
        if (_known.TryGetValue(certificate, out var known))
        {
            return known;
        }

        known = new Known(FindIssuer(certificate), Serial(certificate), certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData));
        _known.AddOrUpdate(certificate, known);
        return known;
    }

    private X509Certificate2? FindIssuer(X509Certificate2 certificate)
    {
        // A signature check per request and level costs milliseconds; who issued a certificate never changes.
        var key = certificate.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256);
        if (_issuers.TryGetValue(key, out var known))
        {
            return known;
        }

        X509Certificate2? found = null;
        foreach (var (net, _) in _authorities)
        {
            if (net.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData) && SignedBy(certificate, net))
            {
                found = net;
                break;
            }
        }

        if (_issuers.Count >= MaxRememberedIssuers)
        {
            _issuers.Clear();
        }

        _issuers[key] = found;
        return found;
    }

    private static bool SignedBy(X509Certificate2 certificate, X509Certificate2 issuer)
    {
        try
        {
            var bc = new X509CertificateParser().ReadCertificate(certificate.RawData);
            bc.Verify(new X509CertificateParser().ReadCertificate(issuer.RawData).GetPublicKey());
            return true;
        }
        catch (Exception ex) when (ex is Org.BouncyCastle.Security.InvalidKeyException or Org.BouncyCastle.Security.SignatureException or Org.BouncyCastle.Security.Certificates.CertificateException)
        {
            return false;
        }
    }

    private void Refresh(bool force)
    {
        var now = _time.GetUtcNow();
        if (!force && now - _lastScan < RescanInterval)
        {
            return;
        }

        lock (_gate)
        {
            if (!force && now - _lastScan < RescanInterval)
            {
                return;
            }

            _lastScan = now;
            var files = Directory.Exists(_folder)
                ? Directory.EnumerateFiles(_folder).Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList()
                : [];
            var stamp = string.Join('|', files.Select(f => $"{f}:{File.GetLastWriteTimeUtc(f).Ticks}:{new FileInfo(f).Length}"));
            if (!force && stamp == _snapshot.Stamp)
            {
                return;
            }

            Volatile.Write(ref _snapshot, Load(files, stamp));
        }
    }

    private Snapshot Load(List<string> files, string stamp)
    {
        var byIssuer = new Dictionary<string, HeldCrl>(StringComparer.Ordinal);
        var parser = new X509CrlParser();
        foreach (var file in files)
        {
            X509Crl crl;
            try
            {
                crl = parser.ReadCrl(File.ReadAllBytes(file));
                if (crl is null)
                {
                    LogCrlUnreadable(file, "no CRL in file");
                    continue;
                }
            }
            catch (Exception ex) when (ex is IOException or Org.BouncyCastle.Security.Certificates.CrlException or ArgumentException or InvalidOperationException)
            {
                LogCrlUnreadable(file, ex.Message);
                continue;
            }

            var issuer = _authorities.FirstOrDefault(a => a.Bc.SubjectDN.Equivalent(crl.IssuerDN) && Verifies(crl, a.Bc));
            if (issuer.Net is null)
            {
                LogCrlSignatureInvalid(file, crl.IssuerDN.ToString());
                continue;
            }

            var number = crl.GetExtensionValue(Org.BouncyCastle.Asn1.X509.X509Extensions.CrlNumber) is { } ext
                ? Org.BouncyCastle.Asn1.DerInteger.GetInstance(Org.BouncyCastle.Asn1.Asn1Object.FromByteArray(ext.GetOctets())).Value.LongValue
                : 0;
            var held = new HeldCrl(
                number,
                crl.NextUpdate is { } next ? new DateTimeOffset(DateTime.SpecifyKind(next, DateTimeKind.Utc)) : null,
                (crl.GetRevokedCertificates() ?? new HashSet<X509CrlEntry>()).Select(r => new BigInteger(r.SerialNumber.ToByteArrayUnsigned(), isUnsigned: true, isBigEndian: true)).ToHashSet());
            if (!byIssuer.TryGetValue(issuer.Net.Thumbprint, out var existing) || existing.Number < held.Number)
            {
                byIssuer[issuer.Net.Thumbprint] = held;
            }
        }

        LogCrlsLoaded(byIssuer.Count, files.Count, _folder);
        return new Snapshot(stamp, byIssuer);
    }

    private static bool Verifies(X509Crl crl, Org.BouncyCastle.X509.X509Certificate issuer)
    {
        try
        {
            crl.Verify(issuer.GetPublicKey());
            return true;
        }
        catch (Exception ex) when (ex is Org.BouncyCastle.Security.InvalidKeyException or Org.BouncyCastle.Security.SignatureException or Org.BouncyCastle.Security.Certificates.CrlException or InvalidOperationException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 1101, EventName = "CrlUnreadable", Level = LogLevel.Warning, Message = "CRL file {File} is unreadable and ignored: {Reason}")]
    private partial void LogCrlUnreadable(string file, string reason);

    [LoggerMessage(EventId = 1102, EventName = "CrlSignatureInvalid", Level = LogLevel.Warning, Message = "CRL file {File} (issuer {Issuer}) is not signed by any known CA and is ignored; certificates of that CA fail closed")]
    private partial void LogCrlSignatureInvalid(string file, string issuer);

    [LoggerMessage(EventId = 1103, EventName = "CrlsLoaded", Level = LogLevel.Information, Message = "Holding valid CRLs for {Count} CAs from {Files} files in {Folder}")]
    private partial void LogCrlsLoaded(int count, int files, string folder);

    /// <summary>
    /// A certificate's issuer among the known CAs (null: none), its serial, and whether it names itself
    /// as issuer — all fixed for the object — and, for a leaf, its chain's last good verdict.
    /// </summary>
    private sealed class Known(X509Certificate2? issuer, BigInteger serial, bool selfIssued)
    {
        public X509Certificate2? Issuer { get; } = issuer;
        public BigInteger Serial { get; } = serial;
        public bool SelfIssued { get; } = selfIssued;

        /// <summary>
        /// The chain found good against <see cref="GoodChain.Snapshot"/>. It cannot outlive that
        /// snapshot (a changed CRL folder makes a new one) nor the first of the chain's CRLs to go
        /// stale (<see cref="GoodChain.Until"/>); the issuers and serial it was checked with are the
        /// object's own and never change.
        /// </summary>
        public GoodChain? Good;
    }

    private sealed record GoodChain(Snapshot Snapshot, DateTimeOffset Until);

    private sealed record HeldCrl(long Number, DateTimeOffset? NextUpdate, HashSet<BigInteger> Revoked);

    private sealed record Snapshot(string Stamp, Dictionary<string, HeldCrl> ByIssuer)
    {
        public static readonly Snapshot Empty = new("", new Dictionary<string, HeldCrl>());
    }
}

/// <summary>A CA and the CRL the node holds for it: its number and nextUpdate, both null when none is held (its certificates fail closed).</summary>
public sealed record HeldCrlInfo(X509Certificate2 Authority, long? Number, DateTimeOffset? NextUpdate);

/// <summary>What a CRL says of a certificate.</summary>
public enum RevocationStatus
{
    Good,
    Revoked,

    /// <summary>No valid, fresh CRL for the issuer: fail closed.</summary>
    Unknown,
}

/// <summary>A revocation status with its reason for the log and the caller.</summary>
public sealed record RevocationVerdict(RevocationStatus Status, string? Reason);
