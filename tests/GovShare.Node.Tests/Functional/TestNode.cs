using System.Collections.Concurrent;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Hosting;
using GovShare.Node.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Tests.Functional;

/// <summary>
/// A real GovShare node for functional tests: real Kestrel with real TLS on loopback port 0,
/// a real LiteDB data folder, certificates from a <see cref="TestPki"/>. Log lines are captured
/// so tests can check that refusals are logged.
/// </summary>
public sealed class TestNode : IAsyncDisposable
{
    private readonly Dictionary<string, string?> _settings;
    private readonly bool _ownsData;
    private readonly Action<IServiceCollection>? _services;

    private TestNode(TestPki pki, string division, Dictionary<string, string?> settings, bool ownsData, Action<IServiceCollection>? services = null)
    {
        _services = services;
        Pki = pki;
        Division = division;
        _settings = settings;
        _ownsData = ownsData;
    }

    public TestPki Pki { get; }
    public string Division { get; }
    public GovShareNode Node { get; private set; } = null!;
    public ConcurrentQueue<string> Logs { get; } = new();
    public string DataPath => _settings["Node:DataPath"]!;
    public Uri ExchangeAddress => new($"https://localhost:{Node.ExchangeAddress.Port}/");
    public Uri ManagementAddress => Node.ManagementAddress;
    public IServiceProvider Services => Node.Services;

    /// <summary>The settings a node of <paramref name="division"/> gets from the test PKI, ports 0.</summary>
    public static Dictionary<string, string?> DefaultSettings(TestPki pki, string division, string? dataPath = null) => new()
    {
        ["Node:DivisionCode"] = division,
        ["Node:DataPath"] = dataPath ?? Path.Combine(pki.Root, $"data-{division}-{Guid.NewGuid():N}"),
        ["Node:ExchangeUrl"] = "https://127.0.0.1:0",
        ["Node:ManagementUrl"] = "http://127.0.0.1:0",
        ["Node:Certificate"] = Path.Combine(pki.Folder.IssuedFolder, $"node-{division}.crt"),
        ["Node:Key"] = Path.Combine(pki.Folder.IssuedFolder, $"node-{division}.key"),
        ["Node:TrustAnchors"] = pki.Folder.TrustAnchorsFile,
        ["Node:Intermediates"] = pki.Folder.IntermediatesFile,
        ["Node:CrlPath"] = pki.Folder.CrlFolder,
        // The shipped 5 s is for the open network; at load 60-100 a test client's handshake has
        // taken longer and failed tests that had nothing to do with handshakes.
        ["Node:HandshakeTimeout"] = "00:01:00",
        ["Logging:LogLevel:Default"] = "Warning",
        // Per-request lines (refusals included) are Debug: captured for the tests' assertions, kept off the console.
        ["Logging:LogLevel:GovShare"] = "Debug",
        ["Logging:Console:LogLevel:GovShare"] = "Information",
    };

    /// <summary>Starts a node of <paramref name="division"/>; <paramref name="configure"/> edits its settings, <paramref name="services"/> runs
    /// after the node's own registrations (a later one wins, e.g. a test <see cref="TimeProvider"/>), again on every restart.</summary>
    public static async Task<TestNode> StartAsync(TestPki pki, string division = "530100", Action<Dictionary<string, string?>>? configure = null, Action<IServiceCollection>? services = null)
    {
        var settings = DefaultSettings(pki, division);
        configure?.Invoke(settings);
        var node = new TestNode(pki, division, settings, ownsData: true, services);
        await node.StartNodeAsync();
        return node;
    }

    /// <summary>Starts a node of <paramref name="division"/> on an existing data folder, which the test keeps (not deleted on dispose).</summary>
    public static async Task<TestNode> StartOnAsync(TestPki pki, string division, string dataPath)
    {
        var node = new TestNode(pki, division, DefaultSettings(pki, division, dataPath), ownsData: false);
        await node.StartNodeAsync();
        return node;
    }

    /// <summary>Stops the node and starts a new process-equivalent on the same data folder.</summary>
    public async Task RestartAsync()
    {
        await Node.DisposeAsync();
        await StartNodeAsync();
    }

    /// <summary>Registers a department with this node, as its operator would.</summary>
    public void Register(TestDepartment department) =>
        Assert.Empty(Services.GetRequiredService<DepartmentRegistry>().Register(department.Division, department.CreditCode, department.Name, out _));

    /// <summary>An HTTPS client presenting <paramref name="certificate"/> (or none), trusting only the test root.</summary>
    public HttpClient Client(X509Certificate2? certificate) => ClientFor(Pki, ExchangeAddress, certificate);

    /// <summary>An HTTPS client for any node of <paramref name="pki"/> at <paramref name="address"/>; <paramref name="configure"/> may change its handler (count its connections, say).</summary>
    public static HttpClient ClientFor(TestPki pki, Uri address, X509Certificate2? certificate, Action<SocketsHttpHandler>? configure = null)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = ClientTls(pki, certificate),
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        };
        configure?.Invoke(handler);
        return new HttpClient(handler) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>The TLS a test client speaks to a node of <paramref name="pki"/>: <paramref name="certificate"/> (or none) as its own, only the test root trusted.</summary>
    public static SslClientAuthenticationOptions ClientTls(TestPki pki, X509Certificate2? certificate)
    {
        var root = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(pki.Root, "ca", "root", "ca.crt"));
        return new SslClientAuthenticationOptions
        {
            ClientCertificates = certificate is null ? null : [certificate],
            LocalCertificateSelectionCallback = certificate is null ? null : (_, _, _, _, _) => certificate,
            RemoteCertificateValidationCallback = (_, server, sent, _) =>
            {
                using var chain = new X509Chain();
                foreach (var element in sent?.ChainElements ?? (IEnumerable<X509ChainElement>)[])
                {
                    chain.ChainPolicy.ExtraStore.Add(element.Certificate);
                }

                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(root);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return server is not null && chain.Build(new X509Certificate2(server));
            },
        };
    }

    /// <summary>A plain HTTP client for the management listener.</summary>
    public HttpClient ManagementClient() => new() { BaseAddress = ManagementAddress, Timeout = TimeSpan.FromSeconds(30) };

    public async ValueTask DisposeAsync()
    {
        await Node.DisposeAsync();
        if (_ownsData)
        {
            try
            {
                Directory.Delete(DataPath, recursive: true);
            }
            catch (IOException)
            {
                // Left for the OS to clean.
            }
        }
    }

    private async Task StartNodeAsync()
    {
        Node = GovShareNode.Build([], _settings, services =>
        {
            services.AddLogging(logging => logging.AddProvider(new CapturingLoggerProvider(Logs)));
            _services?.Invoke(services);
        });
        await Node.StartAsync();
    }
}

/// <summary>Keeps formatted log lines ("Category[EventId] message") for assertions.</summary>
public sealed class CapturingLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, lines);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{logLevel} {category}[{eventId.Id}:{eventId.Name}] {formatter(state, exception)}");
    }
}
