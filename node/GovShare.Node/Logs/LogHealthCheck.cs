using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace GovShare.Node.Logs;

/// <summary>
/// Health of the three logs. For readiness, every log must be able to append now (no exchange is
/// served that cannot be logged). For liveness, only a log that failed beyond repair counts: a log
/// waiting for space comes back by itself, and a restart would not free the disk.
/// </summary>
internal sealed class LogHealthCheck(LogWriter writer, bool liveness) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var bad = writer.States().Where(s => liveness ? s.Condition == LogCondition.Failed : s.Condition != LogCondition.Writable).ToList();
        if (bad.Count == 0)
        {
            return Task.FromResult(HealthCheckResult.Healthy());
        }

        var reasons = bad.Select(s => s.Condition == LogCondition.Retrying
            ? $"the {LogEntry.LogName(s.Log)} log cannot append (retrying every second): {s.Reason}"
            : $"the {LogEntry.LogName(s.Log)} log failed and needs a restart: {s.Reason}");
        return Task.FromResult(HealthCheckResult.Unhealthy(string.Join("; ", reasons)));
    }
}
