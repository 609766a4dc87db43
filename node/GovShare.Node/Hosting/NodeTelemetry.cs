using GovShare.Node.Hierarchy;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace GovShare.Node.Hosting;

/// <summary>Settings of the node's traces (section <c>Telemetry</c>); metrics are always on at <c>/metrics</c>.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    /// <summary>
    /// An OTLP collector (<c>http://collector:4317</c>, gRPC; or <c>…:4318</c> with <see cref="OtlpProtocol"/> <c>http</c>).
    /// Empty (the default): no traces are kept or sent, and an exchange starts no activity.
    /// </summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary><c>grpc</c> (default) or <c>http</c> (http/protobuf).</summary>
    public string OtlpProtocol { get; set; } = "grpc";
}

/// <summary>
/// OpenTelemetry for the node: its features' meters and ASP.NET Core's own, exported in the
/// Prometheus text format at <c>/metrics</c> on the management listener (never the exchange
/// listener: <see cref="ManagementEndpointAttribute"/>); exchange traces over OTLP when configured.
/// <c>/metrics</c> asks for no operator identity, as the health probes: a cluster's Prometheus
/// scrapes the management port from inside the cluster, and what it reads is counts by kind,
/// status and problem type — no department data, no caller names (docs in deploy/README.md).
/// </summary>
internal static class NodeTelemetry
{
    private static readonly string[] Meters =
    [
        ExchangeMetrics.MeterName,
        LogMetrics.MeterName,
        NodeMetrics.MeterName,
        TrustExpiryWatch.MeterName,
        LinkGauges.MeterName,
        // The runtime's own (GC, thread pool, JIT, CPU time): read at each scrape, nothing on the request path.
        "System.Runtime",
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Http.Connections",
        "Microsoft.AspNetCore.Routing",
        "Microsoft.AspNetCore.Diagnostics",
        "Microsoft.AspNetCore.RateLimiting",
        "Microsoft.AspNetCore.Authentication",
    ];

    public static IServiceCollection AddGovShareTelemetry(this IServiceCollection services, IConfiguration configuration, string divisionCode)
    {
        var options = configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        services.AddSingleton<NodeGauges>();
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("govshare-node", serviceInstanceId: divisionCode))
            .WithMetrics(metrics => metrics.AddMeter(Meters).AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0));
        if (!string.IsNullOrWhiteSpace(options.OtlpEndpoint))
        {
            telemetry.WithTracing(tracing => tracing
                .AddSource(ExchangeMetrics.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddOtlpExporter(otlp =>
                {
                    var http = string.Equals(options.OtlpProtocol, "http", StringComparison.OrdinalIgnoreCase);
                    otlp.Endpoint = TracesEndpoint(options.OtlpEndpoint, http);
                    otlp.Protocol = http ? OpenTelemetry.Exporter.OtlpExportProtocol.HttpProtobuf : OpenTelemetry.Exporter.OtlpExportProtocol.Grpc;
                }));
        }

        return services;
    }

    /// <summary>Maps <c>/metrics</c> for the management listener only, and creates the gauges so the first scrape has them.</summary>
    public static void MapGovShareMetrics(this WebApplication app)
    {
        _ = app.Services.GetRequiredService<NodeGauges>();
        _ = app.Services.GetRequiredService<LogGauges>();
        _ = app.Services.GetRequiredService<LinkGauges>();
        _ = app.Services.GetService<TrustExpiryWatch>();
        app.MapPrometheusScrapingEndpoint("/metrics").WithMetadata(new ManagementEndpointAttribute());
    }

    /// <summary>
    /// The URL spans are posted to. An endpoint set in code is used as it stands (the SDK appends
    /// <c>/v1/traces</c> only to one read from OTEL_* variables), so over http/protobuf a collector's
    /// base address (<c>http://collector:4318</c>) gets the signal path here; one with a path is kept.
    /// </summary>
    internal static Uri TracesEndpoint(string endpoint, bool http)
    {
        var uri = new Uri(endpoint);
        return http && uri.AbsolutePath == "/" ? new Uri(uri, "v1/traces") : uri;
    }

    /// <summary>Validates the settings; every fault is listed.</summary>
    public static IEnumerable<string> Validate(IConfiguration configuration)
    {
        var options = configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        if (!string.IsNullOrWhiteSpace(options.OtlpEndpoint) && !(Uri.TryCreate(options.OtlpEndpoint, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)))
        {
            yield return $"{TelemetryOptions.Section}:{nameof(TelemetryOptions.OtlpEndpoint)}: '{options.OtlpEndpoint}' is not an http(s) URL of an OTLP collector.";
        }

        if (!string.Equals(options.OtlpProtocol, "grpc", StringComparison.OrdinalIgnoreCase) && !string.Equals(options.OtlpProtocol, "http", StringComparison.OrdinalIgnoreCase))
        {
            yield return $"{TelemetryOptions.Section}:{nameof(TelemetryOptions.OtlpProtocol)}: '{options.OtlpProtocol}' is neither 'grpc' nor 'http'.";
        }
    }
}
