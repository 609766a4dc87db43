using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Kernel;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Logs;

/// <summary>Wires the logs into a node.</summary>
public static class LogsServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <see cref="LogWriter"/> (on the node's <see cref="NodeDataFolder"/>, which must
    /// be registered, signing checkpoints with the node's certificate key) and, when
    /// <c>Kafka:BootstrapServers</c> is set, the <see cref="KafkaLogRelay"/>. Settings are validated
    /// at start and every error is reported.
    /// </summary>
    public static IServiceCollection AddGovShareLogs(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<LogOptions>().Bind(configuration.GetSection(LogOptions.Section)).ValidateOnStart();
        services.AddOptions<KafkaOptions>().Bind(configuration.GetSection(KafkaOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<LogOptions>, LogsOptionsValidator>();
        services.AddSingleton<IValidateOptions<KafkaOptions>, LogsOptionsValidator>();
        services.AddSingleton(sp =>
        {
            var node = sp.GetRequiredService<IOptions<NodeOptions>>().Value;
            var state = configuration.GetSection(StateOptions.Section).Get<StateOptions>() ?? new StateOptions();
            using var certificate = X509Certificate2.CreateFromPemFile(node.Certificate, node.Key);
            var key = certificate.GetECDsaPrivateKey()
                ?? throw new InvalidOperationException("Node:Certificate has no ECDSA key; log checkpoints need one.");
            return new LogWriter(
                sp.GetRequiredService<NodeDataFolder>(),
                node.DivisionCode,
                key,
                sp.GetRequiredService<IOptions<LogOptions>>().Value,
                sp.GetService<TimeProvider>() ?? TimeProvider.System,
                sp.GetRequiredService<ILogger<LogWriter>>(),
                // Several replicas each write their own chain, named in (and hashed with) every entry.
                state.IsPostgreSql ? state.Replica : null);
        });
        services.AddSingleton(sp =>
        {
            var state = configuration.GetSection(StateOptions.Section).Get<StateOptions>() ?? new StateOptions();
            var folder = ReplicaChains.ReplicasFolder(sp.GetRequiredService<IOptions<LogOptions>>().Value, state, sp.GetRequiredService<IOptions<NodeOptions>>().Value.DataPath);
            return new ReplicaChains(sp.GetRequiredService<LogWriter>(), folder);
        });
        // Over every replica's chain, so each replica answers for the whole node.
        services.AddSingleton(sp => new ExchangeStatistics(sp.GetRequiredService<ReplicaChains>(), sp.GetRequiredService<ILogger<ExchangeStatistics>>()));
        services.AddSingleton<ILogAggregates>(sp => sp.GetRequiredService<ExchangeStatistics>());
        services.AddSingleton<ChangeLogJournal>();
        services.AddSingleton<IStateJournal>(sp => sp.GetRequiredService<ChangeLogJournal>());
        services.AddSingleton<ChangeLogReplay>();
        if (configuration.GetSection(KafkaOptions.Section).Get<KafkaOptions>() is { Enabled: true })
        {
            services.AddSingleton<KafkaLogRelay>();
            services.AddHostedService(sp => sp.GetRequiredService<KafkaLogRelay>());
        }

        services.AddHostedService<LogCloser>();
        // After the closer, so it stops first: a stop cancels a rebuild rather than waiting for it.
        services.AddHostedService<AggregateWarmup>();
        // The lag and sequence gauges of /metrics; the relay only when Kafka is on.
        services.AddSingleton(sp => new LogGauges(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), sp.GetRequiredService<LogWriter>(), sp.GetService<KafkaLogRelay>()));
        services.AddHealthChecks()
            .Add(new HealthCheckRegistration("logs", sp => new LogHealthCheck(sp.GetRequiredService<LogWriter>(), liveness: false), null, [HealthTags.Ready]))
            .Add(new HealthCheckRegistration("logs-failed", sp => new LogHealthCheck(sp.GetRequiredService<LogWriter>(), liveness: true), null, [HealthTags.Live]));

        return services;
    }
}

/// <summary>Reports every error of the <c>Logs</c> and <c>Kafka</c> sections at start, not just the first.</summary>
internal sealed class LogsOptionsValidator : IValidateOptions<LogOptions>, IValidateOptions<KafkaOptions>
{
    public ValidateOptionsResult Validate(string? name, LogOptions options) => Result(options.Validate());

    public ValidateOptionsResult Validate(string? name, KafkaOptions options) => Result(options.Validate());

    private static ValidateOptionsResult Result(IReadOnlyList<string> errors) =>
        errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
}
