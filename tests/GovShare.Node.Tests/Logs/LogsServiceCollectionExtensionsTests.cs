using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Tests.Logs;

public sealed class LogsServiceCollectionExtensionsTests
{
    private static ServiceProvider Build(LogFolder folder, Dictionary<string, string?> settings)
    {
        var request = new CertificateRequest("CN=node", folder.Key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        Directory.CreateDirectory(folder.Path);
        var certPath = Path.Combine(folder.Path, "node.crt");
        var keyPath = Path.Combine(folder.Path, "node.key");
        File.WriteAllText(certPath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, folder.Key.ExportPkcs8PrivateKeyPem());
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        // As the host provides it (the aggregates' warm-up waits for its "started").
        services.AddSingleton<IHostApplicationLifetime, Microsoft.Extensions.Hosting.Internal.ApplicationLifetime>();
        services.Configure<NodeOptions>(o => (o.DivisionCode, o.Certificate, o.Key) = (LogFolder.Node, certPath, keyPath));
        services.AddSingleton(_ => NodeDataFolder.Open(folder.Path));
        services.AddGovShareLogs(configuration);
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task AddGovShareLogs_WithoutKafka_WritesLocallyAndRegistersNoRelay()
    {
        using var folder = new LogFolder();
        await using (var provider = Build(folder, []))
        {
            var writer = provider.GetRequiredService<LogWriter>();
            Assert.Equal(1, await writer.AppendAsync(LogKind.Query, LogFolder.Exchange(1) with { Kind = ExchangeKind.CatalogQuery }));
            // The closer of the logs (closing checkpoints at stop) and the aggregates' warm-up; no relay.
            Assert.Equal([typeof(LogCloser), typeof(AggregateWarmup)], LogsServices(provider).Select(s => s.GetType()));
        }

        Assert.True(LogVerifier.VerifyStore(folder.Store, LogKind.Query, folder.Key).Ok);
    }

    [Fact]
    public async Task AddGovShareLogs_WithBootstrapServers_RegistersRelay()
    {
        using var folder = new LogFolder();
        await using var provider = Build(folder, new() { ["Kafka:BootstrapServers"] = "127.0.0.1:9" });

        Assert.Equal([typeof(KafkaLogRelay), typeof(LogCloser), typeof(AggregateWarmup)], LogsServices(provider).Select(s => s.GetType()));
    }

    /// <summary>The feature's hosted services in registration order (the health checks bring one of ASP.NET's own).</summary>
    private static List<IHostedService> LogsServices(ServiceProvider provider) =>
        [.. provider.GetServices<IHostedService>().Where(s => s.GetType().Namespace == typeof(LogWriter).Namespace)];

    [Fact]
    public async Task AddGovShareLogs_BadSettings_ReportsEveryError()
    {
        using var folder = new LogFolder();
        await using var provider = Build(folder, new() { ["Logs:RetentionYears"] = "5", ["Logs:CheckpointEvery"] = "0", ["Logs:AggregatePatience"] = "00:02:00" });

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<LogOptions>>().Value);

        Assert.Equal(3, ex.Failures.Count());
        Assert.Contains(ex.Failures, f => f.Contains("RetentionYears", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("AggregatePatience", StringComparison.Ordinal));
    }
}
