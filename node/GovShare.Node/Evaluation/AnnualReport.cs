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
    private const string Whole = "year";
    private static readonly string[] MonthKeys = [.. Enumerable.Range(0, 13).Select(m => m.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    public AnnualReport Build(EvaluationSnapshot snapshot, int year, IReadOnlyList<Violation> violations, string? department = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(violations);
        var period = EvaluationPeriod.Year(year);
        var cards = calculator.Compute(snapshot, period, department);
        var covered = cards.Select(c => c.Department.CreditCode).ToHashSet(StringComparer.Ordinal);
        bool Covers(string? party) => department is null || (party is not null && covered.Contains(party));

        // Successful pulls (and forwarded pulls) the covered departments provided or used, and their pushes, in the year (China time).
        bool IsPull(ExchangeCell c) => c.Kind is ExchangeKind.Pull or ExchangeKind.Forward && (Covers(c.Provider) || Covers(c.User));
        bool IsPush(ExchangeCell c) => c.Kind == ExchangeKind.Push && Covers(c.Provider);
        var none = new ExchangeFigures(0, 0, 0);
        var digest = snapshot.Digest;
        var pulls = digest.Count(period.From, period.To, (_, c) => IsPull(c) ? Whole : null).GetValueOrDefault(Whole) ?? none;
        var pushes = digest.Count(period.From, period.To, (_, c) => IsPush(c) ? Whole : null).GetValueOrDefault(Whole) ?? none;
        var monthPulls = digest.Count(period.From, period.To, (d, c) => IsPull(c) ? MonthKeys[d.Month] : null);
        var monthPushes = digest.Count(period.From, period.To, (d, c) => IsPush(c) ? MonthKeys[d.Month] : null);
        var months = Enumerable.Range(1, 12).Select(m =>
        {
            var p = monthPulls.GetValueOrDefault(MonthKeys[m]) ?? none;
            var q = monthPushes.GetValueOrDefault(MonthKeys[m]) ?? none;
            return new MonthlyExchanges(m, p.Exchanges, q.Exchanges, p.Rows + q.Rows);
        }).ToList();

        var requests = calculator.Requests(snapshot.Requests.Where(r => Covers(r.Provider.CreditCode)), period, snapshot.Today);
        var disputes = ScorecardCalculator.Disputes(snapshot.Disputes.Where(d => Covers(d.Provider.CreditCode)), period, snapshot.Today);
        var summary = new JurisdictionSummary(
            cards.Count,
            CatalogFigures.Sum(cards.Select(c => c.Catalog)),
            pulls,
            pushes,
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
