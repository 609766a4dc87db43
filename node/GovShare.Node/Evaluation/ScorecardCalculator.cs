using System.Text.Json;
using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Logs;
using GovShare.Node.Requests;

namespace GovShare.Node.Evaluation;

/// <summary>
/// Computes scorecards from an <see cref="EvaluationSnapshot"/>. Pure: the same snapshot, period
/// and calendar give the same figures. The definitions are those of <c>Evaluation/README.md</c>.
/// </summary>
public sealed class ScorecardCalculator(WorkingDayCalendar calendar, EvaluationOptions options)
{
    private static readonly HashSet<ExchangeKind> UseKinds = [ExchangeKind.Pull, ExchangeKind.Forward];

    public WorkingDayCalendar Calendar => calendar;

    /// <summary>Scorecards of every department of the snapshot, or of one (credit code).</summary>
    public IReadOnlyList<DepartmentScorecard> Compute(EvaluationSnapshot snapshot, EvaluationPeriod period, string? department = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(period);
        var asOf = AsOf(snapshot, period);
        var digest = snapshot.Digest;
        // Three passes over the period's counts, each grouping by the department a record counts for.
        var exchanges = new PeriodExchanges(
            digest.Count(period.From, period.To, (_, c) => c.Kind == ExchangeKind.Pull && c.Provider is { } p && c.User != p ? p : null),
            digest.Count(period.From, period.To, (_, c) => UseKinds.Contains(c.Kind) && c.Provider != c.User ? c.User : null),
            digest.Count(period.From, period.To, (_, c) => c.Kind == ExchangeKind.Push ? c.Provider : null));
        return [.. snapshot.Departments
            .Where(d => department is null || d.CreditCode == department)
            .Select(d => ForDepartment(snapshot, period, asOf, d, exchanges))];
    }

    /// <summary>
    /// Successful exchanges in a period per department: <c>served</c> (pulls of its data by another
    /// department), <c>used</c> (its pulls and forwards of another's data), <c>pushed</c>.
    /// </summary>
    private sealed record PeriodExchanges(
        IReadOnlyDictionary<string, ExchangeFigures> Served,
        IReadOnlyDictionary<string, ExchangeFigures> Used,
        IReadOnlyDictionary<string, ExchangeFigures> Pushed)
    {
        private static readonly ExchangeFigures None = new(0, 0, 0);

        public static ExchangeFigures Of(IReadOnlyDictionary<string, ExchangeFigures> figures, string code) => figures.GetValueOrDefault(code) ?? None;
    }

    /// <summary>The last day the figures look at: the period's end, or today when the period is not over.</summary>
    public static DateOnly AsOf(EvaluationSnapshot snapshot, EvaluationPeriod period) =>
        period.To < snapshot.Today ? period.To : snapshot.Today;

    private DepartmentScorecard ForDepartment(EvaluationSnapshot snapshot, EvaluationPeriod period, DateOnly asOf, EvaluatedDepartment department, PeriodExchanges exchanges)
    {
        var code = department.CreditCode;
        var entries = snapshot.Catalog.Where(e => e.Provider.CreditCode == code && ExistedAtEnd(e, period)).ToList();
        var shared = entries.Where(e => e.Share.Type != ShareType.NotShared).ToList();
        var catalog = new CatalogFigures(
            entries.Count,
            shared.Sum(e => e.Items.Count(i => i.Shareable)),
            entries.Count(e => e.Share.Type == ShareType.Unconditional),
            entries.Count(e => e.Share.Type == ShareType.Conditional),
            entries.Count(e => e.Share.Type == ShareType.NotShared));

        var served = PeriodExchanges.Of(exchanges.Served, code);
        var used = PeriodExchanges.Of(exchanges.Used, code);
        var pushed = PeriodExchanges.Of(exchanges.Pushed, code);

        var freshness = shared.Select(e => Freshness(snapshot, e, period, asOf)).ToList();
        var late = freshness.Count(f => f.Late);

        var codes = entries.Select(e => e.ResourceCode).ToHashSet(StringComparer.Ordinal);
        var maintainedSince = asOf.AddYears(-1);
        var maintained = entries.Count(e => LastMaintained(snapshot, e, asOf) is var last && WorkingDayCalendar.ToChinaDate(last.Time) >= maintainedSince);
        var ownCodes = snapshot.Catalog.Where(e => e.Provider.CreditCode == code).Select(e => e.ResourceCode).ToHashSet(StringComparer.Ordinal);
        var changes = snapshot.CatalogChanges.Count(c => ownCodes.Contains(c.Record.ResourceCode!) && period.Contains(WorkingDayCalendar.ToChinaDate(c.Record.Time)));

        return new DepartmentScorecard(
            department.Ref,
            period.From,
            period.To,
            asOf,
            catalog,
            served,
            used,
            pushed,
            Requests(snapshot.Requests.Where(r => r.Provider.CreditCode == code), period, snapshot.Today),
            new FreshnessFigures(freshness.Count, freshness.Count - late, late, freshness),
            new MaintenanceFigures(entries.Count, maintained, entries.Count - maintained, changes),
            Disputes(snapshot.Disputes.Where(d => d.Provider.CreditCode == code), period, snapshot.Today));
    }

    /// <summary>Active now and created by the period's end, or retired only after it (a retirement is the entry's last write).</summary>
    public static bool ExistedAtEnd(CatalogEntry entry, EvaluationPeriod period)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return WorkingDayCalendar.ToChinaDate(entry.CreatedAt) <= period.To
            && (entry.Status == EntryStatus.Active || WorkingDayCalendar.ToChinaDate(entry.UpdatedAt) > period.To);
    }

    /// <summary>Distinct exchange ids, their rows and bytes counted once per exchange.</summary>
    public static ExchangeFigures Count(IEnumerable<LoggedRecord> records)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        long rows = 0, bytes = 0;
        foreach (var record in records)
        {
            if (seen.Add(record.Record.ExchangeId))
            {
                rows += record.Record.Rows;
                bytes += record.Record.Bytes;
            }
        }

        return new ExchangeFigures(seen.Count, rows, bytes);
    }

    /// <summary>The user of an exchange: the department acted for, else the caller (credit code for a department).</summary>
    public static string User(LoggedRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return EvaluationSnapshot.PartyKey(record.Record.EffectiveUser);
    }

    /// <summary>Request figures of a set of requests (one provider's, or the jurisdiction's).</summary>
    public RequestFigures Requests(IEnumerable<ShareRequest> requests, EvaluationPeriod period, DateOnly today)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(period);
        int received = 0, answered = 0, inTime = 0, overdue = 0;
        var days = new List<int>();
        foreach (var request in requests)
        {
            var submitted = WorkingDayCalendar.ToChinaDate(request.SubmittedAt);
            if (period.Contains(submitted))
            {
                received++;
            }

            var decided = request.Decision is { } decision ? WorkingDayCalendar.ToChinaDate(decision.At) : (DateOnly?)null;
            if (decided is { } d && period.Contains(d))
            {
                answered++;
                days.Add(WorkingDaysBetween(submitted, d));
                if (d <= request.Due)
                {
                    inTime++;
                }
            }

            // Closed without an answer: withdrawn by the user or expired.
            var closed = decided ?? (request.Status == ShareRequestStatus.Submitted ? null : WorkingDayCalendar.ToChinaDate(request.StatusChangedAt));
            if (period.Contains(request.Due) && request.Due < today && (closed is null || closed > request.Due))
            {
                overdue++;
            }
        }

        days.Sort();
        return new RequestFigures(received, answered, inTime, answered - inTime, Median(days), Percentile(days, 0.9), overdue, days);
    }

    /// <summary>Dispute figures of a set of disputes.</summary>
    public static DisputeFigures Disputes(IEnumerable<Dispute> disputes, EvaluationPeriod period, DateOnly today)
    {
        ArgumentNullException.ThrowIfNull(disputes);
        ArgumentNullException.ThrowIfNull(period);
        int received = 0, answered = 0, onTime = 0, corrected = 0, overdue = 0;
        foreach (var dispute in disputes)
        {
            if (period.Contains(WorkingDayCalendar.ToChinaDate(dispute.RaisedAt)))
            {
                received++;
            }

            var answeredOn = dispute.Answer is { } answer ? WorkingDayCalendar.ToChinaDate(answer.At) : (DateOnly?)null;
            if (answeredOn is { } a && period.Contains(a))
            {
                answered++;
                onTime += a <= dispute.Due ? 1 : 0;
                corrected += dispute.Status == DisputeStatus.Corrected ? 1 : 0;
            }

            if (period.Contains(dispute.Due) && dispute.Due < today && (answeredOn is null || answeredOn > dispute.Due))
            {
                overdue++;
            }
        }

        return new DisputeFigures(received, answered, onTime, corrected, overdue);
    }

    /// <summary>
    /// A resource's freshness: each push (and first the catalog registration) opens a due day, the
    /// end of the update cycle plus <see cref="EvaluationOptions.DataUpdateWorkingDays"/>; a next
    /// push after it, or none by today, is a late spell. Late in the period when a late day
    /// (the day after the due day up to the push, or today) falls into it.
    /// </summary>
    public ResourceFreshness Freshness(EvaluationSnapshot snapshot, CatalogEntry entry, EvaluationPeriod period, DateOnly asOf)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(period);
        var pushes = snapshot.Digest.Pushes(entry.ResourceCode).OrderBy(r => r.Record.Time).ToList();
        var spells = Spells(snapshot, entry, pushes, snapshot.Today, out _);
        var touching = spells.Where(s => Touches(s, period, asOf, snapshot.Today)).ToList();

        var upToEnd = pushes.Where(p => WorkingDayCalendar.ToChinaDate(p.Record.Time) <= period.To).ToList();
        var anchor = upToEnd.Count > 0 ? WorkingDayCalendar.ToChinaDate(upToEnd[^1].Record.Time) : WorkingDayCalendar.ToChinaDate(entry.CreatedAt);
        return new ResourceFreshness(
            entry.ResourceCode,
            entry.Name,
            entry.UpdateCycle,
            upToEnd.Count > 0 ? upToEnd[^1].Record.Time : null,
            pushes.Count(p => period.Contains(WorkingDayCalendar.ToChinaDate(p.Record.Time))),
            DueAfter(anchor, entry.UpdateCycle, out _),
            touching.Count > 0,
            touching);
    }

    /// <summary>
    /// Every late spell of a resource up to <paramref name="today"/>; <paramref name="nextDue"/> is the due day of the last push.
    /// Art. 16 asks for data within <see cref="EvaluationOptions.DataUpdateWorkingDays"/> working days of its change at the
    /// source. A push that states that time (<c>diff.sourceChangedAt</c> of its exchange record) is measured from it: late when
    /// it came after the working days counted from the stated day. A push that states nothing is measured, as a proxy, from the
    /// push before it (or the registration): one update cycle plus the working days. The next update is due one cycle after a
    /// push's arrival either way (a push stating an old change still brings the data up to date when it comes).
    /// </summary>
    public IReadOnlyList<LateSpell> Spells(EvaluationSnapshot snapshot, CatalogEntry entry, IReadOnlyList<LoggedRecord> pushes, DateOnly today, out DateOnly nextDue)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(pushes);
        var created = snapshot.CatalogChanges.FirstOrDefault(c => c.Record.ResourceCode == entry.ResourceCode);
        var registered = WorkingDayCalendar.ToChinaDate(entry.CreatedAt);
        var anchors = new List<(DateOnly Arrived, DateOnly? SourceChanged, LogReference? Reference)>
        {
            (registered, null, created?.Reference("catalog registration")),
        };
        anchors.AddRange(pushes.Select(p => (WorkingDayCalendar.ToChinaDate(p.Record.Time), SourceChangedOn(p.Record), (LogReference?)p.Reference("push"))));
        var spells = new List<LateSpell>();
        nextDue = default;
        for (var i = 0; i < anchors.Count; i++)
        {
            var due = DueAfter(anchors[i].Arrived, entry.UpdateCycle, out var provisional);
            nextDue = due;
            if (i + 1 < anchors.Count)
            {
                var next = anchors[i + 1];
                if (next.SourceChanged is { } changed)
                {
                    var sourceDue = calendar.AddWorkingDays(changed, options.DataUpdateWorkingDays, out var sourceProvisional);
                    if (next.Arrived > sourceDue)
                    {
                        spells.Add(new LateSpell(sourceDue, sourceProvisional, null, next.Reference, changed));
                    }
                }
                else if (next.Arrived > due)
                {
                    spells.Add(new LateSpell(due, provisional, anchors[i].Reference, next.Reference));
                }
            }
            else if (due < today)
            {
                spells.Add(new LateSpell(due, provisional, anchors[i].Reference, null));
            }
        }

        return spells;
    }

    /// <summary>The China date of the source change a push stated (<c>diff.sourceChangedAt</c>), if it stated one.</summary>
    private static DateOnly? SourceChangedOn(LogRecord record) =>
        record.Diff is { ValueKind: JsonValueKind.Object } diff && diff.TryGetProperty("sourceChangedAt", out var stated) && stated.TryGetDateTimeOffset(out var changed)
            ? WorkingDayCalendar.ToChinaDate(changed)
            : null;

    private static bool Touches(LateSpell spell, EvaluationPeriod period, DateOnly asOf, DateOnly today)
    {
        var firstLate = spell.Due.AddDays(1);
        var lastLate = spell.EndedBy is { } end ? WorkingDayCalendar.ToChinaDate(end.Time) : today;
        return firstLate <= asOf && firstLate <= period.To && lastLate >= period.From;
    }

    /// <summary>The end of one update cycle after <paramref name="day"/>, plus the working days data may take (Art. 16).</summary>
    public DateOnly DueAfter(DateOnly day, UpdateCycle cycle, out bool provisional)
    {
        var end = cycle switch
        {
            UpdateCycle.RealTime or UpdateCycle.Daily => day.AddDays(1),
            UpdateCycle.Weekly => day.AddDays(7),
            UpdateCycle.Monthly => day.AddMonths(1),
            UpdateCycle.Quarterly => day.AddMonths(3),
            UpdateCycle.HalfYearly => day.AddMonths(6),
            _ => day.AddYears(1),
        };
        return calendar.AddWorkingDays(end, options.DataUpdateWorkingDays, out provisional);
    }

    /// <summary>The change-log record of the entry's last write on or before <paramref name="asOf"/> (its time), or its creation.</summary>
    public static (DateTimeOffset Time, LoggedRecord? Record) LastMaintained(EvaluationSnapshot snapshot, CatalogEntry entry, DateOnly asOf)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ArgumentNullException.ThrowIfNull(entry);
        var last = snapshot.CatalogChanges.LastOrDefault(c => c.Record.ResourceCode == entry.ResourceCode && WorkingDayCalendar.ToChinaDate(c.Record.Time) <= asOf);
        return last is not null ? (last.Record.Time, last) : (entry.CreatedAt, null);
    }

    /// <summary>Working days in (a, b]; a year without a holiday file counts weekdays (as the requests' provisional deadlines do).</summary>
    public int WorkingDaysBetween(DateOnly from, DateOnly to)
    {
        if (to < from)
        {
            return -WorkingDaysBetween(to, from);
        }

        var count = 0;
        for (var d = from.AddDays(1); d <= to; d = d.AddDays(1))
        {
            var working = calendar.Years.Contains(d.Year) ? calendar.IsWorkingDay(d) : d.DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday);
            count += working ? 1 : 0;
        }

        return count;
    }

    /// <summary>The median of sorted values (the mean of the middle two for an even count); null when empty.</summary>
    public static double? Median(IReadOnlyList<int> sorted)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Count == 0)
        {
            return null;
        }

        var middle = sorted.Count / 2;
        return sorted.Count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2.0;
    }

    /// <summary>The nearest-rank percentile of sorted values: the smallest value with at least <paramref name="p"/> of them at or below it.</summary>
    public static double? Percentile(IReadOnlyList<int> sorted, double p)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        if (sorted.Count == 0)
        {
            return null;
        }

        var rank = (int)Math.Ceiling(p * sorted.Count);
        return sorted[Math.Clamp(rank, 1, sorted.Count) - 1];
    }
}
