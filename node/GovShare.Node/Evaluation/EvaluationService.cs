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
    ILogger<EvaluationService> logger)
{
    public ViolationStore Violations => violations;

    public ScorecardSet Scorecards(EvaluationPeriod period, string? department = null)
    {
        var snapshot = sources.Capture();
        return new ScorecardSet(snapshot.Node, period.From, period.To, ScorecardCalculator.AsOf(snapshot, period), calculator.Compute(snapshot, period, department));
    }

    /// <summary>Whether the node knows the department (registered or a catalog provider).</summary>
    public bool Knows(string creditCode) => sources.Capture().Departments.Any(d => d.CreditCode == creditCode);

    /// <summary>Detects every violation the logs show and records the new ones; running it again records nothing new.</summary>
    public ViolationScan Scan()
    {
        var snapshot = sources.Capture();
        var findings = detector.Detect(snapshot);
        var recorded = violations.Record(findings);
        LogScan(logger, findings.Count, recorded.Count, snapshot.Exchanges.Count, snapshot.CatalogChanges.Count);
        return new ViolationScan(snapshot.Now, findings.Count, recorded.Count, recorded);
    }

    public AnnualReport Report(int year, string? department = null)
    {
        var snapshot = sources.Capture();
        var report = reports.Build(snapshot, year, violations.List(new ViolationQuery(Year: year)), department);
        LogReport(logger, year, department ?? "jurisdiction", report.Departments.Count);
        return report;
    }

    [LoggerMessage(EventId = 8001, EventName = "ViolationScanCompleted", Level = LogLevel.Information,
        Message = "Violation scan: {Detected} detected, {Recorded} newly recorded ({Exchanges} exchange records, {Changes} catalog changes read)")]
    private static partial void LogScan(ILogger logger, int detected, int recorded, int exchanges, int changes);

    [LoggerMessage(EventId = 8002, EventName = "AnnualReportGenerated", Level = LogLevel.Information,
        Message = "Annual report {Year} generated for {Subject} ({Departments} departments)")]
    private static partial void LogReport(ILogger logger, int year, string subject, int departments);
}
