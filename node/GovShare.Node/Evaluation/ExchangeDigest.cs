using GovShare.Contract;
using GovShare.Node.Calendar;
using GovShare.Node.Logs;

namespace GovShare.Node.Evaluation;

/// <summary>What an exchange record counts under: its kind, provider and user (<see cref="ScorecardCalculator.User"/>).</summary>
public readonly record struct ExchangeCell(ExchangeKind Kind, string? Provider, string User);

/// <summary>
/// What the evaluation reads of the exchange log: counts of successful exchanges by day and
/// <see cref="ExchangeCell"/> (scorecards' served/used/pushed, the annual report's totals and
/// months), and the few records it needs one by one: successful pushes (freshness, late data),
/// the first push and comparison of an exchange id (a dispute's evidence) and the refused pulls
/// the violations name. <see cref="Scan"/> computes all of it from the records (the definition);
/// <see cref="EvaluationAggregate"/> keeps it incrementally, and tests hold the two equal.
/// </summary>
public abstract class ExchangeDigest
{
    /// <summary>The problem types of refused pulls a violation rests on.</summary>
    internal static readonly HashSet<string> RefusalTypes =
        [ProblemTypes.PurposeMismatch, ProblemTypes.OnwardSharingNotConsented, ProblemTypes.NoGrant, ProblemTypes.ItemNotGranted];

    /// <summary>The kinds counted per cell.</summary>
    internal static bool Counted(ExchangeKind kind) => kind is ExchangeKind.Pull or ExchangeKind.Forward or ExchangeKind.Push;

    /// <summary>Exchange records read (for the scan's log line).</summary>
    public abstract long Records { get; }

    /// <summary>
    /// The successful (2xx) pull, forward and push records of days <paramref name="firstDay"/>–<paramref name="lastDay"/>
    /// (China time) grouped by <paramref name="group"/> (null: left out), each group counted as
    /// <see cref="ScorecardCalculator.Count"/> does: distinct exchange ids, rows and bytes of an id's first record.
    /// </summary>
    public abstract IReadOnlyDictionary<string, ExchangeFigures> Count(DateOnly firstDay, DateOnly lastDay, Func<DateOnly, ExchangeCell, string?> group);

    /// <summary>The successful push records of a resource, in log order.</summary>
    public abstract IReadOnlyList<LoggedRecord> Pushes(string resourceCode);

    /// <summary>The first push record (any status) of an exchange id.</summary>
    public abstract LoggedRecord? FirstPush(string exchangeId);

    /// <summary>The first comparison record (any status) of an exchange id.</summary>
    public abstract LoggedRecord? FirstComparison(string exchangeId);

    /// <summary>Pull records refused with one of <see cref="RefusalTypes"/>, in log order.</summary>
    public abstract IReadOnlyList<LoggedRecord> Refusals { get; }

    /// <summary>The definition: every figure computed from the records themselves (in log order).</summary>
    public static ExchangeDigest Scan(IReadOnlyList<LoggedRecord> records) => new FullScan(records);

    /// <summary>The cell of a record.</summary>
    public static ExchangeCell CellOf(LogRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return new(record.Kind, record.Provider, EvaluationSnapshot.PartyKey(record.EffectiveUser));
    }

    private sealed class FullScan(IReadOnlyList<LoggedRecord> records) : ExchangeDigest
    {
        public override long Records => records.Count;

        public override IReadOnlyList<LoggedRecord> Refusals { get; } =
            [.. records.Where(r => r.Record.Kind == ExchangeKind.Pull && r.Record.ProblemType is { } type && RefusalTypes.Contains(type))];

        public override IReadOnlyDictionary<string, ExchangeFigures> Count(DateOnly firstDay, DateOnly lastDay, Func<DateOnly, ExchangeCell, string?> group)
        {
            var groups = new Dictionary<string, List<LoggedRecord>>(StringComparer.Ordinal);
            foreach (var record in records)
            {
                var day = WorkingDayCalendar.ToChinaDate(record.Record.Time);
                if (record.Record.Status is >= 200 and < 300 && Counted(record.Record.Kind) && day >= firstDay && day <= lastDay && group(day, CellOf(record.Record)) is { } key)
                {
                    (groups.TryGetValue(key, out var list) ? list : groups[key] = []).Add(record);
                }
            }

            return groups.ToDictionary(g => g.Key, g => ScorecardCalculator.Count(g.Value), StringComparer.Ordinal);
        }

        public override IReadOnlyList<LoggedRecord> Pushes(string resourceCode) =>
            [.. records.Where(r => r.Record.Kind == ExchangeKind.Push && r.Record.Status is >= 200 and < 300 && r.Record.ResourceCode == resourceCode)];

        public override LoggedRecord? FirstPush(string exchangeId) =>
            records.FirstOrDefault(r => r.Record.ExchangeId == exchangeId && r.Record.Kind == ExchangeKind.Push);

        public override LoggedRecord? FirstComparison(string exchangeId) =>
            records.FirstOrDefault(r => r.Record.ExchangeId == exchangeId && r.Record.Kind == ExchangeKind.Compare);
    }
}
