using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Management;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace GovShare.Node.Tests.Identity;

/// <summary>
/// Certificate and CRL lifecycle: the node warns before its certificate, a CA or a CRL's nextUpdate
/// runs out (on a set clock), an operator refreshes the CRLs, and a renewed certificate works beside
/// the old one until the old one is revoked.
/// </summary>
public sealed class TrustLifecycleTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task ExpiryWatch_OnASetClock_WarnsEachDateWhenItComesWithinReach()
    {
        // The test PKI: the node's certificate ends in 30 days, each CRL's nextUpdate in 7, the CAs in years.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var lines = new ConcurrentQueue<string>();
        var options = Options(expiry: TimeSpan.FromDays(10), crlExpiry: TimeSpan.FromDays(2));
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var watch = Watch(options, time, meters.GetRequiredService<IMeterFactory>(), lines);
        var health = new TrustExpiryWatch.HealthCheck(watch);

        Assert.Empty(watch.LogWarnings());
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync(new HealthCheckContext())).Status);
        Assert.Equal(0, Gauge<int>(watch, "govshare.trust.expiring").Single().Value);

        // 5.5 days on: every CRL has 1.5 days left, the node's certificate 24.5.
        time.Advance(TimeSpan.FromDays(5.5));
        var warned = watch.LogWarnings();
        Assert.NotEmpty(warned);
        Assert.All(warned, w => Assert.Equal(ExpiryKind.Crl, w.Kind));
        Assert.Equal(_pki.Folder.AllAuthorities().Count(), warned.Count);
        var degraded = await health.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Contains("CRL", degraded.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("node's certificate", degraded.Description, StringComparison.Ordinal);
        Assert.Equal(warned.Count, Gauge<int>(watch, "govshare.trust.expiring").Single().Value);
        Assert.Equal(warned.Count, lines.Count(l => l.Contains("TrustExpiring", StringComparison.Ordinal)));

        // Logged once a day, not at every hourly pass.
        time.Advance(TimeSpan.FromHours(1));
        watch.LogWarnings();
        Assert.Equal(warned.Count, lines.Count(l => l.Contains("TrustExpiring", StringComparison.Ordinal)));

        // 21 days on: the node's certificate has 9 days left (within 10); the CRLs are past.
        time.Advance(TimeSpan.FromDays(15.5) - TimeSpan.FromHours(1));
        warned = watch.LogWarnings();
        var node = Assert.Single(warned, w => w.Kind == ExpiryKind.NodeCertificate);
        Assert.InRange(node.Left.TotalDays, 8.9, 9.1);
        Assert.Contains(lines, l => l.Contains("TrustExpiring", StringComparison.Ordinal) && l.Contains("node's certificate", StringComparison.Ordinal) && l.Contains("Node:ExpiryWarning", StringComparison.Ordinal));
        Assert.All(warned.Where(w => w.Kind == ExpiryKind.Crl), w => Assert.True(w.Left < TimeSpan.Zero));
        Assert.DoesNotContain(warned, w => w.Kind == ExpiryKind.CaCertificate);
        var seconds = Gauge<double>(watch, "govshare.trust.expiry");
        var nodeSeconds = seconds.Single(m => Tag(m.Tags, "kind") == "node-certificate").Value;
        Assert.InRange(nodeSeconds, TimeSpan.FromDays(8.9).TotalSeconds, TimeSpan.FromDays(9.1).TotalSeconds);
        Assert.All(seconds.Where(m => Tag(m.Tags, "kind") == "crl"), m => Assert.True(m.Value < 0));
    }

    [Fact]
    public async Task ExpiryWatch_ACaWithinReach_IsWarned()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var root = X509CertificateLoader.LoadCertificateFromFile(_pki.Folder.TrustAnchorsFile);
        time.SetUtcNow(new DateTimeOffset(root.NotAfter.ToUniversalTime()) - TimeSpan.FromDays(3));
        var watch = Watch(Options(TimeSpan.FromDays(10), TimeSpan.FromDays(2)), time, meters.GetRequiredService<IMeterFactory>(), new());

        var result = await new TrustExpiryWatch.HealthCheck(watch).CheckHealthAsync(new HealthCheckContext());

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Contains(watch.LogWarnings(), w => w.Kind == ExpiryKind.CaCertificate && w.Subject == root.Subject);
    }

    [Fact]
    public async Task Node_WithinReach_HealthIsDegradedButReady_AndTheOperatorRefreshesCrls()
    {
        // The node's certificate ends in 30 days: a 60-day reach warns of it now.
        await using var node = await TestNode.StartAsync(_pki, configure: s => s["Node:ExpiryWarning"] = "60.00:00:00");
        using var management = node.ManagementClient();

        using var detail = await management.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, detail.StatusCode);
        var body = (await detail.Content.ReadFromJsonAsync<HealthDetail>(JsonSerializerOptions.Web))!;
        Assert.Equal("degraded", body.Status);
        var check = Assert.Single(body.Checks, c => c.Check == "trust-expiry");
        Assert.Equal("degraded", check.Status);
        Assert.Contains("the node's certificate", check.Reason, StringComparison.Ordinal);
        Assert.Equal(1, ((JsonElement)check.Data["expiring"]).GetInt32());
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("health/ready")).StatusCode);
        Assert.Contains(node.Logs, l => l.Contains("TrustExpiring", StringComparison.Ordinal));

        // The operator publishes fresh CRLs valid 30 days and has the node read them now.
        management.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OperatorToken.ReadFrom(node.DataPath));
        var before = (await management.GetFromJsonAsync<List<TrustDate>>("v1/operator/trust", Json))!;
        Assert.All(before.Where(d => d.Kind == ExpiryKind.Crl), d => Assert.InRange(d.SecondsLeft, 0, TimeSpan.FromDays(7.1).TotalSeconds));
        foreach (var ca in _pki.Folder.AllAuthorities())
        {
            _pki.Folder.PublishCrl(ca, DateTimeOffset.UtcNow, TimeSpan.FromDays(30));
        }

        using var refreshed = await management.PostAsync("v1/operator/crl/refresh", null);
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        var after = (await refreshed.Content.ReadFromJsonAsync<List<TrustDate>>(Json))!;
        var crls = after.Where(d => d.Kind == ExpiryKind.Crl).ToList();
        Assert.Equal(_pki.Folder.AllAuthorities().Count(), crls.Count);
        Assert.All(crls, d => Assert.InRange(d.SecondsLeft, TimeSpan.FromDays(29).TotalSeconds, TimeSpan.FromDays(30.1).TotalSeconds));

        // Without the operator's credential: refused.
        management.DefaultRequestHeaders.Authorization = null;
        Assert.Equal(HttpStatusCode.Unauthorized, (await management.PostAsync("v1/operator/crl/refresh", null)).StatusCode);
    }

    [Fact]
    public async Task RenewedCertificate_SameIdentityNewKey_WorksBesideTheOld_UntilTheOldIsRevoked()
    {
        var department = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
        await using var node = await TestNode.StartAsync(_pki);
        node.Register(department);

        var now = DateTimeOffset.UtcNow;
        var files = _pki.Folder.Renew(department.Files.CertificatePath, now.AddMinutes(-5), now.AddDays(365));
        using var renewed = TestPki.Load(files);

        Assert.Equal(department.Certificate.SubjectName.RawData, renewed.SubjectName.RawData);
        Assert.Equal(TrustMaterial.UriOf(department.Certificate), TrustMaterial.UriOf(renewed));
        Assert.Equal(department.Certificate.Issuer, renewed.Issuer);
        Assert.NotEqual(TrustMaterial.SpkiSha256(department.Certificate), TrustMaterial.SpkiSha256(renewed));
        Assert.NotEqual(department.Certificate.SerialNumber, renewed.SerialNumber);
        Assert.True(File.Exists(department.Files.CertificatePath), "the old certificate's files are left in place");

        Assert.Equal(department.CreditCode, await IdentityOf(node, renewed));
        Assert.Equal(department.CreditCode, await IdentityOf(node, department.Certificate));

        // The holder switched: the old one is revoked, and refused; the renewed one goes on.
        Assert.NotNull(_pki.Folder.Revoke(department.Files.Serial, DateTimeOffset.UtcNow));
        for (var attempt = 0; ; attempt++)
        {
            using var old = node.Client(department.Certificate);
            using var response = await old.GetAsync("v1/identity");
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                break;
            }

            Assert.True(attempt < 600, "the revoked certificate was still accepted");
            await Task.Delay(100);
        }

        Assert.Equal(department.CreditCode, await IdentityOf(node, renewed));
    }

    [Fact]
    public async Task Inbox_DepartmentWhoseCertificateExpiresWithin30Days_GetsANotice_OthersNone()
    {
        var now = DateTimeOffset.UtcNow;
        var expiring = _pki.IssueDepartment(name: "Kunming Public Security Bureau", notBefore: now.AddDays(-300), notAfter: now.AddDays(12));
        var fresh = _pki.IssueDepartment(name: "Kunming Civil Affairs Bureau", notAfter: now.AddDays(200));
        await using var node = await TestNode.StartAsync(_pki);
        node.Register(expiring);
        node.Register(fresh);

        var notice = (await Inbox(node, expiring.Certificate)).GetProperty("certificateExpiring");
        Assert.Equal(expiring.Certificate.SerialNumber, notice.GetProperty("serial").GetString());
        Assert.InRange(notice.GetProperty("daysLeft").GetInt32(), 11, 12);
        Assert.Contains("Ask your CA for a renewal", notice.GetProperty("notice").GetString(), StringComparison.Ordinal);
        Assert.False(HasNotice(await Inbox(node, fresh.Certificate)));

        // Renewed, and calling with the new certificate: no notice any more.
        var renewed = TestPki.Load(_pki.Folder.Renew(expiring.Files.CertificatePath, now.AddMinutes(-5), now.AddDays(365)));
        Assert.False(HasNotice(await Inbox(node, renewed)));
    }

    // The API leaves null properties out.
    private static bool HasNotice(JsonElement inbox) => inbox.TryGetProperty("certificateExpiring", out var notice) && notice.ValueKind != JsonValueKind.Null;

    private static async Task<JsonElement> Inbox(TestNode node, X509Certificate2 certificate)
    {
        using var client = node.Client(certificate);
        using var response = await client.GetAsync("v1/inbox");
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    [Fact]
    public void Renew_NodeCertificate_KeepsItsNamesAndAddresses()
    {
        var now = DateTimeOffset.UtcNow;
        var old = Path.Combine(_pki.Folder.IssuedFolder, "node-530100.crt");
        var files = _pki.Folder.Renew(old, now, now.AddDays(90));
        using var before = X509Certificate2.CreateFromPem(File.ReadAllText(old));
        using var after = X509Certificate2.CreateFromPem(File.ReadAllText(files.CertificatePath));
        var sanBefore = before.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        var sanAfter = after.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();

        Assert.Equal(sanBefore.EnumerateDnsNames(), sanAfter.EnumerateDnsNames());
        Assert.Equal(sanBefore.EnumerateIPAddresses(), sanAfter.EnumerateIPAddresses());
        Assert.Equal("govshare:node/530100", TrustMaterial.UriOf(after));
        Assert.Equal(
            before.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value),
            after.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value));
    }

    [Fact]
    public void Renew_ACertificateFromAnotherPki_OrACa_IsRefused()
    {
        using var foreign = new TestPki();
        var stranger = foreign.IssueDepartment();

        var refused = Assert.Throws<ArgumentException>(() => _pki.Folder.Renew(stranger.Files.CertificatePath, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1)));
        Assert.Contains("was not issued by a CA of", refused.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => _pki.Folder.Renew(Path.Combine(_pki.Root, "ca", "530100", "ca.crt"), DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1)));
    }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerOptions.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    private static async Task<string?> IdentityOf(TestNode node, X509Certificate2 certificate)
    {
        using var client = node.Client(certificate);
        using var response = await client.GetAsync("v1/identity");
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("creditCode").GetString();
    }

    private NodeOptions Options(TimeSpan expiry, TimeSpan crlExpiry) => new()
    {
        DivisionCode = "530100",
        Certificate = Path.Combine(_pki.Folder.IssuedFolder, "node-530100.crt"),
        Key = Path.Combine(_pki.Folder.IssuedFolder, "node-530100.key"),
        TrustAnchors = _pki.Folder.TrustAnchorsFile,
        Intermediates = _pki.Folder.IntermediatesFile,
        CrlPath = _pki.Folder.CrlFolder,
        ExpiryWarning = expiry,
        CrlExpiryWarning = crlExpiry,
    };

    private static TrustExpiryWatch Watch(NodeOptions options, TimeProvider time, IMeterFactory meters, ConcurrentQueue<string> lines)
    {
        var errors = new List<string>();
        var trust = TrustMaterial.Load(options, errors);
        Assert.Empty(errors);
        using var logging = LoggerFactory.Create(b => b.AddProvider(new CapturingLoggerProvider(lines)));
        var crls = new CrlStore(options.CrlPath, options.CrlGrace, trust.Authorities, time, logging.CreateLogger<CrlStore>());
        return new TrustExpiryWatch(trust, crls, time, Microsoft.Extensions.Options.Options.Create(options), meters, logging.CreateLogger<TrustExpiryWatch>());
    }

    private static List<(T Value, KeyValuePair<string, object?>[] Tags)> Gauge<T>(TrustExpiryWatch watch, string name)
        where T : struct
    {
        var measured = new List<(T, KeyValuePair<string, object?>[])>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, watch.Meter) && instrument.Name == name)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<T>((_, value, tags, _) => measured.Add((value, tags.ToArray())));
        listener.Start();
        listener.RecordObservableInstruments();
        return measured;
    }

    private static string? Tag(KeyValuePair<string, object?>[] tags, string key) => tags.Single(t => t.Key == key).Value as string;
}
