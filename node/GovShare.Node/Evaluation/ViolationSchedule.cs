using GovShare.Node.Kernel;
using GovShare.Node.Requests;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Evaluation;

/// <summary>
/// Runs the violation scan every <see cref="EvaluationOptions.ScanInterval"/> (Art. 42: violations are
/// found and followed up without anyone asking), on the leader replica only, so a node with several
/// replicas notifies and escalates once. A failed scan is logged and the next one runs as planned.
/// </summary>
public sealed partial class ViolationSchedule(EvaluationService evaluation, NodeDataFolder data, EvaluationOptions options, ILogger<ViolationSchedule> logger) : NodeBackgroundService
{
    /// <summary>Who a scheduled scan is attributed to in the violations' history and the change log.</summary>
    public const string By = "schedule";

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        if (options.ScanInterval <= TimeSpan.Zero)
        {
            return;
        }

        // Real time, not the node's clock: the interval is how often to look, the clock decides what is late.
        using var timer = new PeriodicTimer(options.ScanInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (!data.State.IsLeader)
            {
                continue;
            }

            try
            {
                evaluation.Scan(By);
            }
            catch (Logs.AggregatesNotReadyException)
            {
                // The logs' aggregates are still being folded at start: the next tick scans.
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogScanFailed(logger, ex);
            }
        }
    }

    [LoggerMessage(EventId = 8003, EventName = "ScheduledScanFailed", Level = LogLevel.Error, Message = "The scheduled violation scan failed; the next one runs at the usual interval")]
    private static partial void LogScanFailed(ILogger logger, Exception exception);
}

/// <summary>A department's open violations as notices in its inbox (Art. 42), newest deadline last.</summary>
public sealed class ViolationNotices(ViolationStore violations) : IInboxNoticeSource
{
    public IReadOnlyList<InboxNotice> NoticesOf(string divisionCode, string creditCode) =>
        [.. violations.List(new ViolationQuery(Department: creditCode))
            .Where(v => v.Status != ViolationStatus.Rectified && v.Department.DivisionCode == divisionCode)
            .OrderBy(v => v.RectifyBy).ThenBy(v => v.Id, StringComparer.Ordinal)
            .Select(v => new InboxNotice(v.Id, System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(v.Kind.ToString()), v.Rule, v.ResourceCode, v.Summary,
                Calendar.WorkingDayCalendar.ToChinaDate(v.DetectedAt), v.RectifyBy, v.RectifyByProvisional,
                System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(v.Status.ToString()), v.RectificationOverdue, v.EscalatedTo))];
}
