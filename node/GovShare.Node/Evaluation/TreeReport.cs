using GovShare.Node.Kernel;

namespace GovShare.Node.Evaluation;

/// <summary>
/// A node's annual report as it goes up the tree (Art. 40): its own <see cref="AnnualReport"/>, the reports its
/// children submitted (their totals), who has not submitted, and the totals over all of it. A prefecture's has no
/// children, so its total is its own; the province's is the province's report for the year, which it submits on to
/// its own parent in the same form. <c>DueBy</c> is when this node's report is due at its parent (15 January for a
/// prefecture, the end of February for a province); <c>Violations</c> counts the year's violations over the tree.
/// </summary>
public sealed record TreeReport(
    int Year,
    string Node,
    DateOnly DueBy,
    DateTimeOffset GeneratedAt,
    bool YearComplete,
    JurisdictionSummary Total,
    IReadOnlyList<MonthlyExchanges> Months,
    int Violations,
    AnnualReport Own,
    IReadOnlyList<ChildReportSummary> Children,
    IReadOnlyList<MissingReport> Missing);

/// <summary>
/// What a child submitted, as its parent counts it: the child's tree totals, and when and how it came. <c>SubmittedAt</c>
/// is when its report for the year first arrived (lateness counts from it), <c>LastSubmittedAt</c> when the current
/// version did (a child submits again when its own children's reports change its totals).
/// </summary>
public sealed record ChildReportSummary(
    string Node,
    DateOnly DueBy,
    DateTimeOffset SubmittedAt,
    DateTimeOffset LastSubmittedAt,
    bool Late,
    string PayloadSha256,
    string SignerKeySha256,
    JurisdictionSummary Total,
    IReadOnlyList<MonthlyExchanges> Months,
    int Violations);

/// <summary>A linked child whose report for the year has not arrived: <c>due</c> (a reminder, with the days left) or <c>late</c> (past its due day).</summary>
public sealed record MissingReport(string Node, DateOnly DueBy, string Status, int DaysLeft);

/// <summary>Due days and sums of reports up the tree.</summary>
public static class TreeReports
{
    /// <summary>The change-log and signed-submission kind of an annual report.</summary>
    public const string Kind = "annual-report";

    /// <summary>
    /// When <paramref name="division"/>'s report for <paramref name="year"/> is due at its parent (Art. 40): a province
    /// reports nationally by the end of February, a prefecture (and every other level below a province) to the province
    /// by 15 January. Calendar days, as the rule states them, not working days.
    /// </summary>
    public static DateOnly DueBy(string division, int year) =>
        DivisionCode.IsProvince(division) ? new DateOnly(year + 1, 3, 1).AddDays(-1) : new DateOnly(year + 1, 1, 15);

    /// <summary>Builds this node's tree report: <paramref name="own"/> plus each child report in <paramref name="children"/>, and the children in <paramref name="owing"/> that have none.</summary>
    public static TreeReport Build(AnnualReport own, IReadOnlyList<ChildReportSummary> children, IEnumerable<string> owing, DateOnly today)
    {
        ArgumentNullException.ThrowIfNull(own);
        ArgumentNullException.ThrowIfNull(children);
        var missing = owing.Where(c => children.All(r => r.Node != c)).Order(StringComparer.Ordinal).Select(c =>
        {
            var due = DueBy(c, own.Year);
            return new MissingReport(c, due, today > due ? "late" : "due", due.DayNumber - today.DayNumber);
        }).ToList();
        return new TreeReport(
            own.Year,
            own.Node,
            DueBy(own.Node, own.Year),
            own.GeneratedAt,
            own.YearComplete,
            Sum([own.Summary, .. children.Select(c => c.Total)]),
            Sum([own.Months, .. children.Select(c => c.Months)]),
            own.Violations.Total + children.Sum(c => c.Violations),
            own,
            [.. children.OrderBy(c => c.Node, StringComparer.Ordinal)],
            missing);
    }

    /// <summary>Totals over several reports: counts add up; the request medians are recomputed over all the responses.</summary>
    public static JurisdictionSummary Sum(IReadOnlyList<JurisdictionSummary> all)
    {
        ArgumentNullException.ThrowIfNull(all);
        static ExchangeFigures Add(IEnumerable<ExchangeFigures> figures) => figures.Aggregate(new ExchangeFigures(0, 0, 0), (a, b) => new(a.Exchanges + b.Exchanges, a.Rows + b.Rows, a.Bytes + b.Bytes));
        var days = all.SelectMany(s => s.Requests.ResponseWorkingDays).Order().ToList();
        var requests = new RequestFigures(
            all.Sum(s => s.Requests.Received),
            all.Sum(s => s.Requests.Answered),
            all.Sum(s => s.Requests.AnsweredInTime),
            all.Sum(s => s.Requests.AnsweredLate),
            ScorecardCalculator.Median(days),
            ScorecardCalculator.Percentile(days, 0.9),
            all.Sum(s => s.Requests.Overdue),
            days);
        return new JurisdictionSummary(
            all.Sum(s => s.Departments),
            CatalogFigures.Sum(all.Select(s => s.Catalog)),
            Add(all.Select(s => s.Pulls)),
            Add(all.Select(s => s.Pushes)),
            requests,
            all.Sum(s => s.FreshResources),
            all.Sum(s => s.LateResources),
            all.Sum(s => s.StaleEntries),
            new DisputeFigures(all.Sum(s => s.Disputes.Received), all.Sum(s => s.Disputes.Answered), all.Sum(s => s.Disputes.AnsweredOnTime),
                all.Sum(s => s.Disputes.Corrected), all.Sum(s => s.Disputes.Overdue)));
    }

    private static List<MonthlyExchanges> Sum(IReadOnlyList<IReadOnlyList<MonthlyExchanges>> all) =>
        [.. Enumerable.Range(1, 12).Select(m =>
        {
            var month = all.SelectMany(a => a).Where(x => x.Month == m).ToList();
            return new MonthlyExchanges(m, month.Sum(x => x.Pulls), month.Sum(x => x.Pushes), month.Sum(x => x.Rows));
        })];
}
