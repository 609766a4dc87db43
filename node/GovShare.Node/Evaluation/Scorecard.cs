using GovShare.Node.Catalog;

namespace GovShare.Node.Evaluation;

/// <summary>A period of evaluation: calendar days in China Standard Time, both ends included.</summary>
public sealed record EvaluationPeriod(DateOnly From, DateOnly To)
{
    public bool Contains(DateOnly day) => day >= From && day <= To;

    /// <summary>The calendar year <paramref name="year"/>.</summary>
    public static EvaluationPeriod Year(int year) => new(new DateOnly(year, 1, 1), new DateOnly(year, 12, 31));
}

/// <summary>
/// One department's scorecard for a period (Art. 38–40). Every figure is defined in
/// <c>Evaluation/README.md</c>; all come from the exchange and change logs and the catalog and
/// requests stores.
/// </summary>
public sealed record DepartmentScorecard(
    DepartmentRef Department,
    DateOnly From,
    DateOnly To,
    DateOnly AsOf,
    CatalogFigures Catalog,
    ExchangeFigures Served,
    ExchangeFigures Used,
    ExchangeFigures Pushed,
    RequestFigures Requests,
    FreshnessFigures Freshness,
    MaintenanceFigures Maintenance,
    DisputeFigures Disputes);

/// <summary>The department's resources in the sharing catalog at the end of the period, and their share types.</summary>
public sealed record CatalogFigures(int Resources, int Items, int Unconditional, int Conditional, int NotShared)
{
    public static CatalogFigures Sum(IEnumerable<CatalogFigures> all) => all.Aggregate(new CatalogFigures(0, 0, 0, 0, 0),
        (a, b) => new(a.Resources + b.Resources, a.Items + b.Items, a.Unconditional + b.Unconditional, a.Conditional + b.Conditional, a.NotShared + b.NotShared));
}

/// <summary>Successful exchanges (distinct exchange ids) with their rows and bytes, each counted once.</summary>
public sealed record ExchangeFigures(long Exchanges, long Rows, long Bytes);

/// <summary>Share requests answered by the department as provider (Art. 25: within 10 working days).</summary>
public sealed record RequestFigures(
    int Received,
    int Answered,
    int AnsweredInTime,
    int AnsweredLate,
    double? MedianWorkingDays,
    double? P90WorkingDays,
    int Overdue,
    IReadOnlyList<int> ResponseWorkingDays);

/// <summary>Data freshness of the department's shared resources against their update cycles (Art. 16).</summary>
public sealed record FreshnessFigures(int Resources, int OnTime, int Late, IReadOnlyList<ResourceFreshness> PerResource)
{
    /// <summary>Share of resources without a late spell in the period, 0–100; null without resources.</summary>
    public double? OnTimePercent => Resources == 0 ? null : Math.Round(100.0 * OnTime / Resources, 1);
}

/// <summary>One resource's freshness: its pushes, the next due day, and its late spells that touch the period.</summary>
public sealed record ResourceFreshness(
    string ResourceCode,
    string Name,
    UpdateCycle Cycle,
    DateTimeOffset? LastPush,
    int PushesInPeriod,
    DateOnly NextDue,
    bool Late,
    IReadOnlyList<LateSpell> LateSpells);

/// <summary>
/// A time a resource's data was late: nothing was pushed by <see cref="Due"/>; it ended with the
/// push at <see cref="EndedBy"/>, or is still open. <see cref="Since"/> is the push (or the
/// catalog registration) the due day was counted from. When the late push stated when its data
/// changed at the source (<c>GovShare-Source-Changed-At</c>, Art. 16), the due day is counted from
/// that day instead: <see cref="SourceChangedOn"/>, and <see cref="Since"/> is null.
/// </summary>
public sealed record LateSpell(DateOnly Due, bool DueProvisional, LogReference? Since, LogReference? EndedBy, DateOnly? SourceChangedOn = null);

/// <summary>Catalog maintenance within the year (Art. 18): entries written in the 12 months to the end of the period.</summary>
public sealed record MaintenanceFigures(int Resources, int MaintainedWithinYear, int Stale, int ChangesInPeriod);

/// <summary>Disputes (Art. 27) the department answered as provider.</summary>
public sealed record DisputeFigures(int Received, int Answered, int AnsweredOnTime, int Corrected, int Overdue);

/// <summary>The response of the scorecards endpoint.</summary>
public sealed record ScorecardSet(string Node, DateOnly From, DateOnly To, DateOnly AsOf, IReadOnlyList<DepartmentScorecard> Departments);
