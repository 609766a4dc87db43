using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Management;

/// <summary>
/// The node's own health checks (features add theirs, e.g. the logs) and the probes' answer:
/// 200 or 503 with <c>{"status", "reasons": [...]}</c>, each reason naming its check.
/// </summary>
public static class NodeHealth
{
    /// <summary>Registers the checks of the data folder (free space, database) and of shutdown.</summary>
    public static IServiceCollection AddGovShareHealth(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<ShutdownHealthCheck>("shutdown", tags: [HealthTags.Ready])
            .AddCheck<FreeSpaceHealthCheck>("free-space", tags: [HealthTags.Ready])
            .AddCheck<DatabaseHealthCheck>("database", tags: [HealthTags.Ready]);
        return services;
    }

    /// <summary>Runs the checks of <paramref name="tag"/> and answers 200 or 503 with every failing check's reason.</summary>
    internal static async Task<IResult> ProbeAsync(HealthCheckService health, string tag, string healthyStatus, string unhealthyStatus, CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(r => r.Tags.Contains(tag), cancellationToken);
        var reasons = report.Entries
            .Where(e => e.Value.Status != HealthStatus.Healthy)
            .Select(e => new HealthReason(e.Key, e.Value.Description ?? e.Value.Exception?.Message ?? "unhealthy"))
            .ToList();
        var body = new HealthAnswer(reasons.Count == 0 ? healthyStatus : unhealthyStatus, reasons);
        return reasons.Count == 0 ? TypedResults.Ok(body) : TypedResults.Json(body, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>Runs every check and answers <see cref="HealthDetail"/>.</summary>
    internal static async Task<IResult> DetailAsync(HealthCheckService health, CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(cancellationToken);
        var checks = report.Entries
            .OrderBy(e => e.Key, StringComparer.Ordinal)
            .Select(e => new HealthCheckDetail(e.Key, Word(e.Value.Status), e.Value.Description ?? e.Value.Exception?.Message, e.Value.Data))
            .ToList();
        var body = new HealthDetail(Word(report.Status), checks);
        return report.Status == HealthStatus.Unhealthy ? TypedResults.Json(body, statusCode: StatusCodes.Status503ServiceUnavailable) : TypedResults.Ok(body);
    }

    private static string Word(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => "healthy",
        HealthStatus.Degraded => "degraded",
        _ => "unhealthy",
    };
}

/// <summary>
/// <c>/health</c>: every check (probes' and <see cref="HealthTags.Detail"/> ones) with its status, reason and
/// values; 200 when healthy or degraded (warnings), 503 when a check is unhealthy.
/// </summary>
public sealed record HealthDetail(string Status, IReadOnlyList<HealthCheckDetail> Checks);

/// <summary>One check in <see cref="HealthDetail"/>: <c>healthy</c>, <c>degraded</c> or <c>unhealthy</c>, why, and its values (e.g. seconds left).</summary>
public sealed record HealthCheckDetail(string Check, string Status, string? Reason, IReadOnlyDictionary<string, object> Data);

/// <summary>The probes' answer.</summary>
public sealed record HealthAnswer(string Status, IReadOnlyList<HealthReason> Reasons);

/// <summary>One failing check and why.</summary>
public sealed record HealthReason(string Check, string Reason);

/// <summary>Not ready from the moment a stop begins (SIGTERM, SIGINT): the load balancer sends nothing new.</summary>
internal sealed class ShutdownHealthCheck(IHostApplicationLifetime lifetime) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(lifetime.ApplicationStopping.IsCancellationRequested
            ? HealthCheckResult.Unhealthy("the node is stopping: exchanges in progress are finishing, no new ones are taken")
            : HealthCheckResult.Healthy());
}

/// <summary>Not ready while the data folder's file system has less than <see cref="NodeOptions.MinFreeBytes"/> free.</summary>
internal sealed class FreeSpaceHealthCheck(NodeDataFolder data, IOptions<NodeOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var free = DiskSpace.FreeBytes(data.Path);
        var floor = options.Value.MinFreeBytes;
        return Task.FromResult(free < floor
            ? HealthCheckResult.Unhealthy($"the data folder's file system has {free} bytes free, below Node:MinFreeBytes ({floor}); new pushes are refused")
            : HealthCheckResult.Healthy());
    }
}

/// <summary>Not ready when the database does not answer a query (an open handle is not enough).</summary>
internal sealed class DatabaseHealthCheck(NodeDataFolder data) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            data.State.Check();
            return Task.FromResult(HealthCheckResult.Healthy());
        }
        catch (Exception ex) when (ex is LiteDB.LiteException or Npgsql.NpgsqlException or IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"the database does not answer: {ex.Message}"));
        }
    }
}
