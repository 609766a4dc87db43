using System.Globalization;
using System.Net;
using System.Text.Json;
using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Hierarchy;
using GovShare.Node.Kernel;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Evaluation;

/// <summary>A child's report as its parent answers about it: when it arrived, whether late, what it holds (without the payload).</summary>
public sealed record ReportAtParent(string Child, int Year, DateOnly DueBy, DateTimeOffset FirstReceivedAt, DateTimeOffset ReceivedAt, bool Late, string PayloadSha256, string SignerKeySha256, IReadOnlyList<string> Includes)
{
    public static ReportAtParent Of(ReceivedReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return new(report.Child, report.Year, report.DueBy, report.FirstReceivedAt, report.ReceivedAt, report.Late, report.Submission.PayloadSha256, report.SignerKeySha256,
            ReportTree.Includes(report.Report().Children));
    }
}

/// <summary>Where this node's report of a year stands at its parent (the child's own reminder): due by, days left, and the parent's record if any.</summary>
public sealed record ReportSubmissionStatus(int Year, string? Parent, DateOnly DueBy, int DaysLeft, ReportAtParent? AtParent, string? Problem = null);

/// <summary>
/// The annual report up the tree (Art. 40): builds this node's <see cref="TreeReport"/> from its own report and the
/// reports its children submitted, submits it to the parent over the parent link, and finds the children that did
/// not report in time (a <c>report-late</c> violation the day after the due day, for the scan of Art. 42).
/// </summary>
public sealed partial class ReportTree(EvaluationService evaluation, ChildReports received, LateReports late, ParentChannel channel,
    IOptions<NodeOptions> node, TimeProvider time, ILogger<ReportTree> logger)
{
    private readonly Dictionary<int, string> _accepted = [];

    private DateOnly Today => WorkingDayCalendar.ToChinaDate(time.GetUtcNow());

    /// <summary>This node's report of <paramref name="year"/> with its children's: the province's report, at the province.</summary>
    public TreeReport Build(int year) =>
        TreeReports.Build(evaluation.Report(year), [.. received.Of(year).Select(r => r.Summary())], late.Owing(year), Today);

    /// <summary>The children's reports a tree report holds, as <c>node:payload sha256</c>: when they change, the report goes up again.</summary>
    public static IReadOnlyList<string> Includes(IEnumerable<ChildReportSummary> children) =>
        [.. children.Select(c => $"{c.Node}:{c.PayloadSha256}").Order(StringComparer.Ordinal)];

    /// <summary>Asks the parent what it holds of this node's report of <paramref name="year"/>.</summary>
    public async Task<ReportSubmissionStatus> StatusAsync(int year, CancellationToken cancellation)
    {
        var due = TreeReports.DueBy(node.Value.DivisionCode, year);
        var days = due.DayNumber - Today.DayNumber;
        if (channel.Parent is not { } parent)
        {
            return new ReportSubmissionStatus(year, null, due, days, null, "This node has no parent link: it is the top of its tree.");
        }

        using var response = await channel.SendAsync(parent, HttpMethod.Get, ReportApi.NodePath(year), null, cancellation);
        return response.StatusCode switch
        {
            HttpStatusCode.OK => new ReportSubmissionStatus(year, parent.DivisionCode, due, days, JsonSerializer.Deserialize<ReportAtParent>(await response.Content.ReadAsStringAsync(cancellation), CatalogJson.Options)),
            HttpStatusCode.NotFound => new ReportSubmissionStatus(year, parent.DivisionCode, due, days, null),
            _ => new ReportSubmissionStatus(year, parent.DivisionCode, due, days, null, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellation)}"),
        };
    }

    /// <summary>
    /// Signs this node's report of <paramref name="year"/> with the node key and submits it to the parent. Returns the
    /// parent's answer: its record of the report, or its refusal (status and problem text).
    /// </summary>
    public async Task<(ReportAtParent? Accepted, int Status, string? Refusal)> SubmitAsync(int year, CancellationToken cancellation)
    {
        if (channel.Parent is not { } parent)
        {
            return (null, 0, "This node has no parent link: it is the top of its tree.");
        }

        var report = Slim(Build(year));
        var submission = channel.Sign(TreeReports.Kind, year.ToString(CultureInfo.InvariantCulture), JsonSerializer.SerializeToUtf8Bytes(report, CatalogJson.Options));
        using var response = await channel.SendAsync(parent, HttpMethod.Put, ReportApi.NodePath(year), submission, cancellation);
        var body = await response.Content.ReadAsStringAsync(cancellation);
        if (!response.IsSuccessStatusCode)
        {
            LogRefused(logger, year, parent.DivisionCode, (int)response.StatusCode, body.Length > 2000 ? body[..2000] : body);
            return (null, (int)response.StatusCode, body);
        }

        var accepted = JsonSerializer.Deserialize<ReportAtParent>(body, CatalogJson.Options)!;
        lock (_accepted)
        {
            _accepted[year] = string.Join(',', accepted.Includes);
        }

        LogSubmitted(logger, year, parent.DivisionCode, report.Children.Count, submission.PayloadSha256);
        return (accepted, (int)response.StatusCode, null);
    }

    /// <summary>
    /// What goes up of this node's own report: every figure, each department's scorecard, the violation counts — but
    /// not the per-resource freshness lists and the violations' items with their evidence, which stay here. The parent
    /// keeps the submission in its change log, which Kafka carries in messages of at most 1 MB by default.
    /// </summary>
    internal static TreeReport Slim(TreeReport report) => report with
    {
        Own = report.Own with
        {
            Departments = [.. report.Own.Departments.Select(d => d with { Freshness = d.Freshness with { PerResource = [] } })],
            Violations = report.Own.Violations with { Items = [], EscalatedToLeadingGroup = [] },
        },
    };

    /// <summary>
    /// The schedule's step: from 1 January, the past year's report goes to the parent unless the parent holds it with the
    /// same children's reports in it (asked after a restart, remembered after an acceptance). A node without a parent does nothing.
    /// </summary>
    public async Task SubmitDueAsync(CancellationToken cancellation)
    {
        var year = Today.Year - 1;
        // A node owes the reports of the years whose due day came after it was linked (as its parent counts them);
        // an earlier year goes up only when an operator submits it.
        if (channel.Parent is not { } parent || year < EvaluationApi.FirstYear
            || WorkingDayCalendar.ToChinaDate(parent.LinkedAt) > TreeReports.DueBy(node.Value.DivisionCode, year))
        {
            return;
        }

        var includes = string.Join(',', Includes(received.Of(year).Select(r => r.Summary())));
        lock (_accepted)
        {
            if (_accepted.TryGetValue(year, out var held) && held == includes)
            {
                return;
            }
        }

        var status = await StatusAsync(year, cancellation);
        if (status.AtParent is { } atParent && string.Join(',', atParent.Includes) == includes)
        {
            lock (_accepted)
            {
                _accepted[year] = includes;
            }

            return;
        }

        var (accepted, _, _) = await SubmitAsync(year, cancellation);
        if (accepted is null && status.DaysLeft <= 7)
        {
            // The reminder of Art. 40 on the child's side: the parent does not hold the report and the day is near or past.
            LogReminder(logger, year, status.Parent!, status.DueBy, status.DaysLeft);
        }
    }

    [LoggerMessage(EventId = 8020, EventName = "AnnualReportSubmitted", Level = LogLevel.Information, Message = "Annual report {Year} submitted to parent {Parent} with {Children} children's reports (payload sha256:{Sha256})")]
    private static partial void LogSubmitted(ILogger logger, int year, string parent, int children, string sha256);

    [LoggerMessage(EventId = 8021, EventName = "AnnualReportRefused", Level = LogLevel.Warning, Message = "Parent {Parent} refused the annual report {Year}: {Status} {Problem}")]
    private static partial void LogRefused(ILogger logger, int year, string parent, int status, string problem);

    [LoggerMessage(EventId = 8022, EventName = "AnnualReportDue", Level = LogLevel.Warning, Message = "The annual report {Year} is not at parent {Parent}; it is due by {DueBy} ({DaysLeft} days left)")]
    private static partial void LogReminder(ILogger logger, int year, string parent, DateOnly dueBy, int daysLeft);
}


/// <summary>
/// The children that owe this node their annual report (Art. 40), and those that did not deliver it in time: a
/// <c>report-late</c> violation for the scan (Art. 42). Apart from <see cref="ReportTree"/> because the scan uses it.
/// </summary>
public sealed class LateReports(ChildReports received, NodeLinkRegistry links, TimeProvider time)
{
    /// <summary>The rule name of a late report.</summary>
    public const string LateRule = "report-late";

    /// <summary>The linked children that owe a report of <paramref name="year"/>: those linked by its due day.</summary>
    public IEnumerable<string> Owing(int year) =>
        links.Children().Where(l => WorkingDayCalendar.ToChinaDate(l.LinkedAt) <= TreeReports.DueBy(l.DivisionCode, year)).Select(l => l.DivisionCode);

    /// <summary>
    /// Violations of Art. 40 for the scan: each linked child whose report of a year was not here by its due day, from the
    /// day after it. It stands until the report arrives; one that arrived late is recorded too (not standing: rectified).
    /// </summary>
    public IReadOnlyList<ViolationFinding> Findings()
    {
        var today = WorkingDayCalendar.ToChinaDate(time.GetUtcNow());
        var findings = new List<ViolationFinding>();
        foreach (var child in links.Children())
        {
            var linked = WorkingDayCalendar.ToChinaDate(child.LinkedAt);
            for (var year = Math.Max(EvaluationApi.FirstYear, linked.Year - 1); year < today.Year; year++)
            {
                var due = TreeReports.DueBy(child.DivisionCode, year);
                var report = received.Find(child.DivisionCode, year);
                if (linked > due || today <= due || report is { Late: false })
                {
                    continue;
                }

                var summary = report is null
                    ? $"Node {child.DivisionCode} has not submitted its annual report of {year}, due by {due:yyyy-MM-dd} (Art. 40)."
                    : $"Node {child.DivisionCode} submitted its annual report of {year} on {WorkingDayCalendar.ToChinaDate(report.FirstReceivedAt):yyyy-MM-dd}, after its due day {due:yyyy-MM-dd} (Art. 40).";
                findings.Add(new ViolationFinding($"{LateRule}:{child.DivisionCode}:{year}", ViolationKind.ReportLate, LateRule,
                    new DepartmentRef(child.DivisionCode, $"node/{child.DivisionCode}", $"node {child.DivisionCode}"), null, summary, [], due.AddDays(1))
                { Standing = report is null });
            }
        }

        return findings;
    }
}

/// <summary>Submits the past year's report to the parent every <see cref="EvaluationOptions.ReportSubmitInterval"/>, on the leader only.</summary>
public sealed partial class ReportSchedule(ReportTree reports, NodeDataFolder data, EvaluationOptions options, ILogger<ReportSchedule> logger) : NodeBackgroundService
{
    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        if (options.ReportSubmitInterval <= TimeSpan.Zero)
        {
            return;
        }

        // Real time, not the node's clock: the interval is how often to look, the clock decides which year is due.
        using var timer = new PeriodicTimer(options.ReportSubmitInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (!data.State.IsLeader)
            {
                continue;
            }

            try
            {
                await reports.SubmitDueAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or JsonException or Logs.AggregatesNotReadyException
                || ex is OperationCanceledException && !stoppingToken.IsCancellationRequested)
            {
                LogFailed(logger, ex.Message);
            }
        }
    }

    [LoggerMessage(EventId = 8023, EventName = "AnnualReportSubmissionFailed", Level = LogLevel.Warning, Message = "Submitting the annual report to the parent failed, will retry: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
