using System.Diagnostics.Metrics;
using System.Globalization;
using GovShare.Node.Kernel;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Identity;

/// <summary>What runs out, and when.</summary>
public enum ExpiryKind
{
    /// <summary>The node's own certificate (TLS server and client to other nodes).</summary>
    NodeCertificate,

    /// <summary>A root or prefecture CA certificate the node trusts or sends in its chain.</summary>
    CaCertificate,

    /// <summary>The nextUpdate of the CRL held for a CA: past it (and <see cref="NodeOptions.CrlGrace"/>) that CA's certificates fail closed.</summary>
    Crl,
}

/// <summary>One dated item of the node's trust material; <see cref="Warn"/> when it is within the setting's reach (or past).</summary>
public sealed record ExpiryItem(ExpiryKind Kind, string Subject, DateTimeOffset At, TimeSpan Left, bool Warn)
{
    /// <summary>The item as the health detail and the log say it.</summary>
    public string Describe() => Left <= TimeSpan.Zero
        ? string.Create(CultureInfo.InvariantCulture, $"{Name} '{Subject}' ran out at {At:u}")
        : string.Create(CultureInfo.InvariantCulture, $"{Name} '{Subject}' runs out at {At:u}, in {Left.TotalDays:F1} days");

    private string Name => Kind switch
    {
        ExpiryKind.NodeCertificate => "the node's certificate",
        ExpiryKind.CaCertificate => "the CA certificate",
        _ => "the CRL (nextUpdate) of",
    };
}

/// <summary>
/// Watches the dates the node's trust depends on — its own certificate, every CA certificate, every
/// CRL's nextUpdate — because each fails closed when it passes: departments are refused and the first
/// sign would be their complaints. Within <see cref="NodeOptions.ExpiryWarning"/> (certificates) or
/// <see cref="NodeOptions.CrlExpiryWarning"/> (CRLs) an item turns the <c>trust-expiry</c> check
/// Degraded (<c>/health</c>; never the probes: nothing is wrong yet), is logged once a day
/// (<c>TrustExpiring</c>), and the gauge <c>govshare.trust.expiry</c> gives every item's seconds left.
/// </summary>
public sealed partial class TrustExpiryWatch
{
    /// <summary>The meter's name, for the metrics endpoint to export.</summary>
    public const string MeterName = "GovShare.Node.Identity";

    private static readonly TimeSpan RepeatEvery = TimeSpan.FromDays(1);
    private readonly TrustMaterial _trust;
    private readonly CrlStore _crls;
    private readonly TimeProvider _time;
    private readonly NodeOptions _options;
    private readonly ILogger<TrustExpiryWatch> _logger;
    private readonly Dictionary<string, DateTimeOffset> _logged = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public TrustExpiryWatch(TrustMaterial trust, CrlStore crls, TimeProvider time, IOptions<NodeOptions> options, IMeterFactory meters, ILogger<TrustExpiryWatch> logger)
    {
        _trust = trust;
        _crls = crls;
        _time = time;
        _options = options.Value;
        _logger = logger;
        Meter = meters.Create(MeterName);
        Meter.CreateObservableGauge(
            "govshare.trust.expiry",
            () => Check().Select(i => new Measurement<double>(i.Left.TotalSeconds, new("kind", Kebab(i.Kind)), new("subject", i.Subject))),
            unit: "s",
            description: "Seconds until each of the node's trust dates (its certificate, CA certificates, CRLs' nextUpdate); negative when past.");
        Meter.CreateObservableGauge(
            "govshare.trust.expiring",
            () => Check().Count(i => i.Warn),
            description: "How many trust dates are within the warning's reach (Node:ExpiryWarning, Node:CrlExpiryWarning) or past.");
    }

    /// <summary>This node's meter (one per node, so that nodes sharing a process keep their own values).</summary>
    public Meter Meter { get; }

    /// <summary>Every dated item, soonest first.</summary>
    public IReadOnlyList<ExpiryItem> Check()
    {
        var now = _time.GetUtcNow();
        var items = new List<ExpiryItem>();
        void Add(ExpiryKind kind, string subject, DateTimeOffset at, TimeSpan reach) =>
            items.Add(new ExpiryItem(kind, subject, at, at - now, at - now <= reach));

        Add(ExpiryKind.NodeCertificate, _trust.NodeCertificate.Subject, new DateTimeOffset(_trust.NodeCertificate.NotAfter.ToUniversalTime()), _options.ExpiryWarning);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var ca in _trust.Authorities.Concat(_trust.NodeChain))
        {
            if (seen.Add(ca.Thumbprint))
            {
                Add(ExpiryKind.CaCertificate, ca.Subject, new DateTimeOffset(ca.NotAfter.ToUniversalTime()), _options.ExpiryWarning);
            }
        }

        foreach (var held in _crls.Held())
        {
            if (held.NextUpdate is { } next)
            {
                Add(ExpiryKind.Crl, held.Authority.Subject, next, _options.CrlExpiryWarning);
            }
        }

        return [.. items.OrderBy(i => i.At)];
    }

    /// <summary>
    /// Logs each item within reach, at most once a day per item (the monitor calls it hourly, and
    /// at start); returns the items within reach.
    /// </summary>
    public IReadOnlyList<ExpiryItem> LogWarnings()
    {
        var now = _time.GetUtcNow();
        var warned = Check().Where(i => i.Warn).ToList();
        lock (_gate)
        {
            foreach (var item in warned)
            {
                var key = $"{item.Kind}|{item.Subject}|{item.At:O}";
                if (_logged.TryGetValue(key, out var last) && now - last < RepeatEvery)
                {
                    continue;
                }

                _logged[key] = now;
                LogExpiring(item.Describe(), item.Kind == ExpiryKind.Crl ? "Node:CrlExpiryWarning" : "Node:ExpiryWarning", item.Kind == ExpiryKind.Crl ? _options.CrlExpiryWarning : _options.ExpiryWarning);
            }
        }

        return warned;
    }

    private static string Kebab(ExpiryKind kind) => kind switch
    {
        ExpiryKind.NodeCertificate => "node-certificate",
        ExpiryKind.CaCertificate => "ca-certificate",
        _ => "crl",
    };

    [LoggerMessage(EventId = 1110, EventName = "TrustExpiring", Level = LogLevel.Warning, Message = "Renew before it fails closed: {What} (warning reach {Setting} = {Reach})")]
    private partial void LogExpiring(string what, string setting, TimeSpan reach);

    /// <summary>Degraded while an item is within reach; the data holds each item's seconds left.</summary>
    internal sealed class HealthCheck(TrustExpiryWatch watch) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var items = watch.Check();
            var data = new Dictionary<string, object>(StringComparer.Ordinal)
            {
                ["expiring"] = items.Count(i => i.Warn),
                ["secondsLeft"] = items.Count == 0 ? double.MaxValue : Math.Round(items[0].Left.TotalSeconds),
            };
            var warned = items.Where(i => i.Warn).ToList();
            return Task.FromResult(warned.Count == 0
                ? HealthCheckResult.Healthy(data: data)
                : HealthCheckResult.Degraded(string.Join("; ", warned.Select(i => i.Describe())), data: data));
        }
    }

    /// <summary>Logs the warnings at start and every hour.</summary>
    internal sealed class Monitor(TrustExpiryWatch watch, TimeProvider time) : NodeBackgroundService
    {
        protected override async Task RunAsync(CancellationToken stoppingToken)
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                watch.LogWarnings();
                try
                {
                    await Task.Delay(TimeSpan.FromHours(1), time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
