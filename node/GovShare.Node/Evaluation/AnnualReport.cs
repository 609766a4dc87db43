using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Logs;

namespace GovShare.Node.Evaluation;

/// <summary>
/// The annual evaluation report (Art. 40) of one year, for the jurisdiction (every department)
/// or for one department: due by 15 January of the next year.
/// </summary>
public sealed record AnnualReport(
    int Year,
    string Node,
    DepartmentRef? Department,
    DateOnly DueBy,
    DateTimeOffset GeneratedAt,
    bool YearComplete,
    JurisdictionSummary Summary,
    IReadOnlyList<MonthlyExchanges> Months,
    IReadOnlyList<DepartmentScorecard> Departments,
    ViolationSummary Violations);

/// <summary>The report's totals over the departments it covers.</summary>
public sealed record JurisdictionSummary(
    int Departments,
    CatalogFigures Catalog,
    ExchangeFigures Pulls,
    ExchangeFigures Pushes,
    RequestFigures Requests,
    int FreshResources,
    int LateResources,
    int StaleEntries,
    DisputeFigures Disputes);

/// <summary>Successful exchanges of one month (China time): pulls (and forwarded pulls) and pushes.</summary>
public sealed record MonthlyExchanges(int Month, long Pulls, long Pushes, long Rows);

/// <summary>
/// The year's violations by kind and status, and the list; <see cref="EscalatedToLeadingGroup"/> are those
/// escalated at the top of the tree, still escalated (not rectified since): the provincial leading group's part (Art. 42).
/// </summary>
public sealed record ViolationSummary(int Total, IReadOnlyDictionary<ViolationKind, int> ByKind, IReadOnlyDictionary<ViolationStatus, int> ByStatus, IReadOnlyList<Violation> Items,
    IReadOnlyList<Violation> EscalatedToLeadingGroup);

/// <summary>Builds <see cref="AnnualReport"/>s from a snapshot and the recorded violations.</summary>
public sealed class AnnualReportBuilder(ScorecardCalculator calculator)
{
    public AnnualReport Build(EvaluationSnapshot snapshot, int year, IReadOnlyList<Violation> violations, string? department = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(violations);
        var period = EvaluationPeriod.Year(year);
        var cards = calculator.Compute(snapshot, period, department);
        var covered = cards.Select(c => c.Department.CreditCode).ToHashSet(StringComparer.Ordinal);
        bool Covers(string? party) => department is null || (party is not null && covered.Contains(party));

        var records = snapshot.Exchanges
            .Where(r => r.Record.Status is >= 200 and < 300 && WorkingDayCalendar.ToChinaDate(r.Record.Time).Year == year)
            .ToList();
        var pulls = records.Where(r => r.Record.Kind is ExchangeKind.Pull or ExchangeKind.Forward && (Covers(r.Record.Provider) || Covers(ScorecardCalculator.User(r)))).ToList();
        var pushes = records.Where(r => r.Record.Kind == ExchangeKind.Push && Covers(r.Record.Provider)).ToList();
        var months = Enumerable.Range(1, 12).Select(m =>
        {
            bool InMonth(LoggedRecord r) => WorkingDayCalendar.ToChinaDate(r.Record.Time).Month == m;
            var monthPulls = ScorecardCalculator.Count(pulls.Where(InMonth));
            var monthPushes = ScorecardCalculator.Count(pushes.Where(InMonth));
            return new MonthlyExchanges(m, monthPulls.Exchanges, monthPushes.Exchanges, monthPulls.Rows + monthPushes.Rows);
        }).ToList();

        var requests = calculator.Requests(snapshot.Requests.Where(r => Covers(r.Provider.CreditCode)), period, snapshot.Today);
        var disputes = ScorecardCalculator.Disputes(snapshot.Disputes.Where(d => Covers(d.Provider.CreditCode)), period, snapshot.Today);
        var summary = new JurisdictionSummary(
            cards.Count,
            CatalogFigures.Sum(cards.Select(c => c.Catalog)),
            ScorecardCalculator.Count(pulls),
            ScorecardCalculator.Count(pushes),
            requests,
            cards.Sum(c => c.Freshness.OnTime),
            cards.Sum(c => c.Freshness.Late),
            cards.Sum(c => c.Maintenance.Stale),
            disputes);

        var items = violations.Where(v => v.OccurredOn.Year == year && Covers(v.Department.CreditCode)).OrderBy(v => v.OccurredOn).ThenBy(v => v.Id, StringComparer.Ordinal).ToList();
        var byKind = Enum.GetValues<ViolationKind>().ToDictionary(k => k, k => items.Count(v => v.Kind == k));
        var byStatus = Enum.GetValues<ViolationStatus>().ToDictionary(s => s, s => items.Count(v => v.Status == s));
        return new AnnualReport(
            year,
            snapshot.Node,
            department is null ? null : cards.SingleOrDefault()?.Department,
            new DateOnly(year + 1, 1, 15),
            snapshot.Now,
            snapshot.Today > period.To,
            summary,
            months,
            cards,
            new ViolationSummary(items.Count, byKind, byStatus, items,
                [.. items.Where(v => v.Status == ViolationStatus.Escalated && v.EscalatedTo == EscalationTarget.LeadingGroupReport)]));
    }
}
