using Microsoft.Extensions.Logging;

namespace GovShare.Node.Evaluation;

/// <summary>
/// The evaluation as the API and the CLI use it: scorecards for a period, the violation scan,
/// the annual report. Each call takes a fresh <see cref="EvaluationSnapshot"/>, so figures
/// always reflect the logs as they are durable now.
/// </summary>
public sealed partial class EvaluationService(
    EvaluationSources sources,
    ScorecardCalculator calculator,
    ViolationDetector detector,
    ViolationStore violations,
    AnnualReportBuilder reports,
    EscalationTarget escalation,
    LateReports lateReports,
    ILogger<EvaluationService> logger)
{
    public ViolationStore Violations => violations;

    public ScorecardSet Scorecards(EvaluationPeriod period, string? department = null)
    {
        return sources.With(snapshot =>
            new ScorecardSet(snapshot.Node, period.From, period.To, ScorecardCalculator.AsOf(snapshot, period), calculator.Compute(snapshot, period, department)));
    }

    /// <summary>Whether the node knows the department (registered or a catalog provider).</summary>
    public bool Knows(string creditCode) => sources.With(snapshot => snapshot.Departments.Any(d => d.CreditCode == creditCode));

    /// <summary>
    /// The loop of Art. 42 in one pass: detects every violation the records show, notifies the new ones
    /// (each to its department's inbox, with the day to rectify by), then re-checks the open ones:
    /// rectified when no longer standing, escalated when still standing after their day. Running it
    /// again on the same records changes nothing. <paramref name="by"/> names who ran it (the schedule or an operator).
    /// </summary>
    public ViolationScan Scan(string by = "scan")
    {
        var (now, findings, exchanges, changes) = sources.With(snapshot =>
            (snapshot.Now, (IReadOnlyList<ViolationFinding>)[.. detector.Detect(snapshot), .. lateReports.Findings()], snapshot.Digest.Records, snapshot.CatalogChanges.Count));
        var recorded = violations.Record(findings, by);
        var (rectified, escalated) = violations.Recheck(findings, escalation.Current(), by);
        LogScan(logger, by, findings.Count, recorded.Count, rectified.Count, escalated.Count, exchanges, changes);
        return new ViolationScan(now, by, findings.Count, recorded.Count, recorded, rectified, escalated);
    }

    public AnnualReport Report(int year, string? department = null)
    {
        var recorded = violations.List(new ViolationQuery(Year: year));
        var report = sources.With(snapshot => reports.Build(snapshot, year, recorded, department));
        LogReport(logger, year, department ?? "jurisdiction", report.Departments.Count);
        return report;
    }

    [LoggerMessage(EventId = 8001, EventName = "ViolationScanCompleted", Level = LogLevel.Information,
        Message = "Violation scan by {By}: {Detected} detected, {Recorded} newly notified, {Rectified} rectified, {Escalated} escalated ({Exchanges} exchange records, {Changes} catalog changes read)")]
    private static partial void LogScan(ILogger logger, string by, int detected, int recorded, int rectified, int escalated, long exchanges, int changes);

    [LoggerMessage(EventId = 8002, EventName = "AnnualReportGenerated", Level = LogLevel.Information,
        Message = "Annual report {Year} generated for {Subject} ({Departments} departments)")]
    private static partial void LogReport(ILogger logger, int year, string subject, int departments);
}
