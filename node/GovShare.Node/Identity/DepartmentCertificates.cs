using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Kernel;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Identity;

/// <summary>The certificate a registered department last authenticated with, as this process saw it.</summary>
public sealed record SeenCertificate(string Serial, string Thumbprint, string Subject, DateTimeOffset NotAfter, DateTimeOffset FirstSeen, DateTimeOffset LastSeen);

/// <summary>
/// Remembers, per registered department, the certificate it last authenticated with — because the
/// node never stores department certificates (a department holds its own key and certificate) and
/// yet the operator must know which department will be refused next when its certificate runs out.
/// Memory only, "as last seen since the node started": a restart forgets it until each department
/// calls again. Bounded against a client cycling certificates: only registered departments are
/// remembered (registration is the operator's decision), one entry each, replaced when the
/// certificate differs. The hot path (same certificate again) allocates nothing: it compares the
/// certificate's DER bytes with the remembered ones and moves a timestamp.
/// </summary>
public sealed class DepartmentCertificates
{
    private readonly DepartmentRegistry _registry;
    private readonly TimeProvider _time;
    private readonly TimeSpan _warning;
    private readonly ConcurrentDictionary<string, Entry> _seen = new(StringComparer.Ordinal);

    public DepartmentCertificates(DepartmentRegistry registry, TimeProvider time, IOptions<NodeOptions> options, IMeterFactory meters)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(meters);
        _registry = registry;
        _time = time;
        _warning = options.Value.ExpiryWarning;
        // Same meter as the node's own trust dates; one series per registered department that has
        // called since the start, so the cardinality is the registry's size at most.
        meters.Create(TrustExpiryWatch.MeterName).CreateObservableGauge(
            "govshare.department.certificate.expiry",
            () => All().Select(d => new Measurement<double>((d.Certificate.NotAfter - _time.GetUtcNow()).TotalSeconds, new KeyValuePair<string, object?>("govshare.department", d.CreditCode))),
            unit: "s",
            description: "Seconds until the certificate each registered department last authenticated with (since the node started) runs out; negative when past.");
    }

    /// <summary>The reach within which a department's certificate is flagged: the node's own <see cref="NodeOptions.ExpiryWarning"/>.</summary>
    public TimeSpan Warning => _warning;

    /// <summary>Notes that <paramref name="caller"/> authenticated with <paramref name="certificate"/>; ignored unless it is a registered department.</summary>
    public void Saw(CallerIdentity caller, X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(certificate);
        if (!_registry.IsRegistered(caller))
        {
            return;
        }

        var now = _time.GetUtcNow();
        if (_seen.TryGetValue(caller.CreditCode!, out var entry) && entry.Is(certificate))
        {
            entry.Touch(now);
            return;
        }

        // A new or different certificate: the one place that allocates (once per certificate change).
        _seen[caller.CreditCode!] = new Entry(certificate, now);
    }

    /// <summary>The last-seen certificate of a registered department, or null when it has not authenticated since the start (or is no longer registered: its entry is dropped).</summary>
    public SeenCertificate? Find(string creditCode)
    {
        if (_registry.Find(creditCode) is null)
        {
            _seen.TryRemove(creditCode, out _);
            return null;
        }

        return _seen.TryGetValue(creditCode, out var entry) ? entry.Snapshot() : null;
    }

    /// <summary>Whether a certificate running out at <paramref name="notAfter"/> is within the warning's reach (or past).</summary>
    public bool Expiring(DateTimeOffset notAfter) => notAfter - _time.GetUtcNow() <= _warning;

    /// <summary>Every registered department's last-seen certificate, soonest to run out first; a removed department's entry is dropped here.</summary>
    public IReadOnlyList<(string CreditCode, SeenCertificate Certificate)> All()
    {
        var seen = new List<(string, SeenCertificate)>();
        foreach (var (code, entry) in _seen)
        {
            if (_registry.Find(code) is null)
            {
                _seen.TryRemove(code, out _);
                continue;
            }

            seen.Add((code, entry.Snapshot()));
        }

        return [.. seen.OrderBy(e => e.Item2.NotAfter)];
    }

    private sealed class Entry(X509Certificate2 certificate, DateTimeOffset now)
    {
        private readonly byte[] _der = certificate.RawData;
        private readonly string _serial = certificate.SerialNumber;
        private readonly string _thumbprint = certificate.Thumbprint;
        private readonly string _subject = certificate.Subject;
        private readonly DateTimeOffset _notAfter = new(certificate.NotAfter.ToUniversalTime());
        private readonly DateTimeOffset _firstSeen = now;
        private long _lastSeenTicks = now.UtcTicks;

        // RawDataMemory is the certificate's own buffer: no copy, unlike RawData.
        public bool Is(X509Certificate2 other) => other.RawDataMemory.Span.SequenceEqual(_der);

        public void Touch(DateTimeOffset now) => Volatile.Write(ref _lastSeenTicks, now.UtcTicks);

        public SeenCertificate Snapshot() =>
            new(_serial, _thumbprint, _subject, _notAfter, _firstSeen, new DateTimeOffset(Volatile.Read(ref _lastSeenTicks), TimeSpan.Zero));
    }
}
