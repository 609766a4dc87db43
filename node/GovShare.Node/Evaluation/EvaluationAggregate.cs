using GovShare.Node.Calendar;
using GovShare.Node.Logs;

namespace GovShare.Node.Evaluation;

/// <summary>
/// The <see cref="ExchangeDigest"/> of one exchange-log chain, folded one entry at a time, so
/// scorecards and the annual report read only what was appended since the last request:
/// <list type="bullet">
/// <item>per China day and <see cref="ExchangeCell"/> (kind × provider × user) of successful pull,
/// forward and push records: the records, rows and bytes;</item>
/// <item>a record whose exchange id came before (within <see cref="DuplicateWindow"/>) is also kept
/// as a <em>repeat</em>, naming the days and cells of the earlier ones: a count subtracts it when
/// one of those is in the same group and period, so a group counts each id once with its first
/// record's rows and bytes, exactly as <see cref="ScorecardCalculator.Count"/> over the records;</item>
/// <item>the records the evaluation needs one by one, which are few beside the pulls: every push,
/// the first comparison of each id, and the pulls refused with a type a violation rests on.</item>
/// </list>
/// A year's scorecards read 365 days of cells (departments × pairs), not millions of records.
/// Ids are remembered for a week after their last record, as in <see cref="StatisticsAggregate"/>:
/// a record of the same exchange later than that would count again (no exchange lasts a week).
/// Each id is held compactly (<see cref="RecentExchanges"/>; a place is the day and the cell's number).
/// </summary>
public sealed class EvaluationAggregate : IChainAggregate
{
    /// <summary>How long an exchange id is remembered to count a repeated record of it once.</summary>
    public static readonly TimeSpan DuplicateWindow = StatisticsAggregate.DuplicateWindow;

    /// <summary>The saved body's tag and version (<see cref="AggregateWriter"/>); 1 was JSON.</summary>
    private const string Tag = "evaluation";
    private const int FormatVersion = 2;

    /// <summary>How many users' URIs are remembered parsed (far more departments than a province has).</summary>
    private const int MaxUserParties = 4096;

    private readonly List<string?> _parties = [];
    private readonly Dictionary<string, int> _partyIds = new(StringComparer.Ordinal);

    /// <summary>A user's party (its number, where it was last counted) by the URI a record names, parsed once each. Not saved; bounded (a parse per record past it, not memory).</summary>
    private readonly Dictionary<string, User> _userParties = new(StringComparer.Ordinal);

    private readonly SortedDictionary<DateOnly, Day> _days = [];
    // A counted record is at one cell of its day: one slot holds its place.
    private readonly RecentExchanges _recent = new(inline: 1);

    // The cells, numbered for the places of _recent; as few as the days' cells.
    private readonly Dictionary<Cell, int> _cellIds = [];
    private readonly List<Cell> _cells = [];
    private readonly List<LoggedRecord> _kept = [];
    private readonly Dictionary<string, List<LoggedRecord>> _pushes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LoggedRecord> _firstPush = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LoggedRecord> _firstComparison = new(StringComparer.Ordinal);
    private readonly List<LoggedRecord> _refusals = [];
    private DateTimeOffset _latest = DateTimeOffset.MinValue;

    // The day the last counted record was on, so the next of the same day skips the sorted days' search. Never
    // stale: a day once made is never removed or replaced (an aggregate is only added to; a load makes a new one).
    private (DateOnly Date, Day? Day) _lastDay;

    // The latest UTC day the ids were last forgotten at (once a day, as in StatisticsAggregate).
    private int _evictedAt;

    public long Sequence { get; private set; }

    public string Hash { get; private set; } = LogEntry.GenesisHash;

    /// <summary>Exchange records folded.</summary>
    public long Records { get; private set; }

    public void Fold(LogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Sequence != Sequence + 1)
        {
            throw new ArgumentException($"Entry {entry.Sequence} does not follow folded sequence {Sequence}.", nameof(entry));
        }

        if (entry.Type == LogEntryType.Record && entry.Record is { } record)
        {
            Records++;
            // Only a record that may be kept one by one is wrapped: not the successful pulls, nearly all records.
            if (MayKeep(record))
            {
                Keep(new LoggedRecord(entry.Node, LogKind.Exchange, entry.Sequence, record, entry.Replica), fresh: true);
            }

            Count(record);
        }

        Sequence = entry.Sequence;
        Hash = entry.Hash;
    }

    /// <summary>Whether <see cref="Keep"/> may keep the record: the kinds it looks at (a refused pull only with a problem type).</summary>
    private static bool MayKeep(LogRecord record) =>
        record.Kind is ExchangeKind.Push or ExchangeKind.Compare || (record.Kind == ExchangeKind.Pull && record.ProblemType is not null);

    // The records needed one by one. Indexed again from the kept list when loaded.
    private void Keep(LoggedRecord logged, bool fresh)
    {
        var record = logged.Record;
        var kept = false;
        if (record.Kind == ExchangeKind.Push)
        {
            kept = true;
            _firstPush.TryAdd(record.ExchangeId, logged);
            if (record.Status is >= 200 and < 300 && record.ResourceCode is { } code)
            {
                (_pushes.TryGetValue(code, out var list) ? list : _pushes[code] = []).Add(logged);
            }
        }
        else if (record.Kind == ExchangeKind.Compare)
        {
            kept = _firstComparison.TryAdd(record.ExchangeId, logged);
        }
        else if (record.Kind == ExchangeKind.Pull && record.ProblemType is { } type && ExchangeDigest.RefusalTypes.Contains(type))
        {
            kept = true;
            _refusals.Add(logged);
        }

        if (kept && fresh)
        {
            _kept.Add(logged);
        }
    }

    private void Count(LogRecord record)
    {
        if (record.Status is < 200 or > 299 || !ExchangeDigest.Counted(record.Kind))
        {
            return;
        }

        _latest = record.Time > _latest ? record.Time : _latest;
        var date = WorkingDayCalendar.ToChinaDate(record.Time);
        var user = UserOf(record.EffectiveUser);
        // The user's last cell, when this record is of the same kind, provider and day: its sums and place without
        // the look-ups. Never stale, as _lastDay: days, cells and their sums are never removed or replaced, a party's
        // and a cell's number never change; a record of another kind, provider or day looks them up again.
        ref var last = ref user.Last;
        if (last.Sums is null || last.Date != date || last.Kind != record.Kind || !string.Equals(last.Provider, record.Provider, StringComparison.Ordinal))
        {
            var cell = new Cell(record.Kind, Party(record.Provider), user.Id);
            var day = DayOf(date);
            if (!day.Cells.TryGetValue(cell, out var cellSums))
            {
                day.Cells[cell] = cellSums = new Sums();
            }

            last = new Counted(record.Kind, record.Provider, date, day, cell, cellSums, Pack(new Place(date, cell)));
        }

        var sums = last.Sums;
        sums.Records++;
        sums.Rows += record.Rows;
        sums.Bytes += record.Bytes;

        var at = last.Place;
        // A view into _recent: nothing below adds or removes an id until the eviction.
        var recent = _recent.Get(record.ExchangeId, out var seenBefore);
        if (seenBefore)
        {
            last.Day.Repeats.Add(new Repeat(last.Cell, record.Rows, record.Bytes, Places(recent)));
            if (!recent.Contains(at))
            {
                recent.Add(at);
            }
        }
        else
        {
            // A new id was counted nowhere yet.
            recent.Add(at);
        }

        recent.Touch(StatisticsAggregate.UtcDay(record.Time));

        // Forget old ids once a day, not per record: one pass over the table when the latest day moves on.
        if (StatisticsAggregate.UtcDay(_latest) > _evictedAt)
        {
            _evictedAt = StatisticsAggregate.UtcDay(_latest);
            _recent.Evict(_evictedAt - StatisticsAggregate.WindowDays);
        }
    }

    private Day DayOf(DateOnly date)
    {
        if (_lastDay.Day is { } last && _lastDay.Date == date)
        {
            return last;
        }

        if (!_days.TryGetValue(date, out var day))
        {
            _days[date] = day = new Day();
        }

        _lastDay = (date, day);
        return day;
    }

    /// <summary>A place as <see cref="RecentExchanges"/> holds it: the day and the cell's number.</summary>
    private RecentExchanges.Place Pack(Place place)
    {
        if (!_cellIds.TryGetValue(place.Cell, out var id))
        {
            _cellIds[place.Cell] = id = _cells.Count;
            _cells.Add(place.Cell);
        }

        return new(place.Date.DayNumber, (uint)id);
    }

    private Place Unpack(RecentExchanges.Place place) => new(DateOnly.FromDayNumber(place.Day), _cells[(int)place.Key]);

    private List<Place> Places(RecentExchanges.Seen seen)
    {
        var places = new List<Place>(seen.Count);
        for (var i = 0; i < seen.Count; i++)
        {
            places.Add(Unpack(seen[i]));
        }

        return places;
    }

    private List<Place> Places(List<RecentExchanges.Place> seen) => seen.ConvertAll(Unpack);

    private int Party(string? party)
    {
        if (party is null)
        {
            return -1;
        }

        if (!_partyIds.TryGetValue(party, out var id))
        {
            id = _partyIds[party] = _parties.Count;
            _parties.Add(party);
        }

        return id;
    }

    // Parsing the user's URI (a split, a credit code's check digit) was a good part of a rebuild's time per record; the users are few.
    private User UserOf(string uri)
    {
        if (!_userParties.TryGetValue(uri, out var user))
        {
            user = new User(Party(EvaluationSnapshot.PartyKey(uri)));
            if (_userParties.Count < MaxUserParties)
            {
                _userParties[uri] = user;
            }
        }

        return user;
    }

    private ExchangeCell View(Cell cell) => new(cell.Kind, cell.Provider < 0 ? null : _parties[cell.Provider], _parties[cell.User]!);

    /// <summary>The digest of several chains (the replicas of one node), answered together.</summary>
    public static ExchangeDigest Digest(IReadOnlyList<EvaluationAggregate> parts) => new Combined(parts);

    // One chain's counts, added into totals (records, rows, bytes) per group.
    private void CountInto(Dictionary<string, (long Exchanges, long Rows, long Bytes)> totals, DateOnly from, DateOnly to, Func<DateOnly, ExchangeCell, string?> group)
    {
        foreach (var (date, day) in _days)
        {
            if (date < from)
            {
                continue;
            }

            if (date > to)
            {
                break;
            }

            foreach (var (cell, sums) in day.Cells)
            {
                if (group(date, View(cell)) is { } key)
                {
                    var t = totals.GetValueOrDefault(key);
                    totals[key] = (t.Exchanges + sums.Records, t.Rows + sums.Rows, t.Bytes + sums.Bytes);
                }
            }

            foreach (var repeat in day.Repeats)
            {
                // Counted already when an earlier record of the id is in the same group and period.
                if (group(date, View(repeat.Cell)) is { } key
                    && repeat.Earlier.Any(e => e.Date >= from && e.Date <= to && group(e.Date, View(e.Cell)) == key))
                {
                    var t = totals[key];
                    totals[key] = (t.Exchanges - 1, t.Rows - repeat.Rows, t.Bytes - repeat.Bytes);
                }
            }
        }
    }

    /// <summary>The aggregate in the saved format (<see cref="AggregateWriter"/>: parties and keys written once, kept records field by field), for <see cref="TryLoad"/>.</summary>
    public byte[] Serialize()
    {
        var w = new AggregateWriter(Tag, FormatVersion);
        void WriteCell(Cell cell)
        {
            w.Number((long)cell.Kind);
            w.Number(cell.Provider + 1);
            w.Number(cell.User);
        }

        void WritePlaces(List<Place> places)
        {
            w.Number(places.Count);
            foreach (var place in places)
            {
                w.Number(place.Date.DayNumber);
                WriteCell(place.Cell);
            }
        }

        w.Number(Sequence);
        w.Text(Hash);
        w.Number(Records);
        w.Time(_latest);
        w.Number(_parties.Count);
        foreach (var party in _parties)
        {
            w.Text(party);
        }

        w.Number(_days.Count);
        foreach (var (date, day) in _days)
        {
            w.Number(date.DayNumber);
            w.Number(day.Cells.Count);
            foreach (var (cell, sums) in day.Cells)
            {
                WriteCell(cell);
                w.Number(sums.Records);
                w.Number(sums.Rows);
                w.Number(sums.Bytes);
            }

            w.Number(day.Repeats.Count);
            foreach (var repeat in day.Repeats)
            {
                WriteCell(repeat.Cell);
                w.Number(repeat.Rows);
                w.Number(repeat.Bytes);
                WritePlaces(repeat.Earlier);
            }
        }

        // The same body as before the ids were packed (format 2): the id as text, the time (now the
        // start of the UTC day last seen: ids are kept and forgotten by day), the places as day and cell.
        w.Number(_recent.Count);
        foreach (var (id, lastDay, places) in _recent.All())
        {
            w.Unique(id);
            w.Time(StatisticsAggregate.StartOfUtcDay(lastDay));
            WritePlaces(Places(places));
        }

        w.Number(_kept.Count);
        foreach (var kept in _kept)
        {
            kept.WriteTo(w);
        }

        return w.Written.ToArray();
    }

    /// <summary>An aggregate read back from <see cref="Serialize"/>'s bytes; null when torn, of another aggregate or format version.</summary>
    public static EvaluationAggregate? TryLoad(ReadOnlySpan<byte> bytes)
    {
        var r = new AggregateReader(bytes, Tag, FormatVersion, out var matches);
        if (!matches)
        {
            return null;
        }

        try
        {
            var sequence = r.Number();
            var aggregate = new EvaluationAggregate
            {
                Sequence = sequence >= 0 ? sequence : throw new InvalidDataException("A negative sequence."),
                Hash = r.Required(),
                Records = r.Number(),
                _latest = r.Time(),
            };
            for (var parties = r.Count(bytes.Length); parties > 0; parties--)
            {
                aggregate._parties.Add(r.Text());
            }

            for (var i = 0; i < aggregate._parties.Count; i++)
            {
                if (aggregate._parties[i] is { } party && !aggregate._partyIds.TryAdd(party, i))
                {
                    throw new InvalidDataException("A party is named twice.");
                }
            }

            for (var days = r.Count(); days > 0; days--)
            {
                var day = new Day();
                aggregate._days.Add(DateOnly.FromDayNumber(r.Count()), day);
                for (var cells = r.Count(); cells > 0; cells--)
                {
                    day.Cells.Add(ReadCell(ref r, aggregate._parties.Count), new Sums { Records = r.Number(), Rows = r.Number(), Bytes = r.Number() });
                }

                for (var repeats = r.Count(); repeats > 0; repeats--)
                {
                    day.Repeats.Add(new Repeat(ReadCell(ref r, aggregate._parties.Count), r.Number(), r.Number(), ReadPlaces(ref r, aggregate._parties.Count)));
                }
            }

            for (var ids = r.Count(); ids > 0; ids--)
            {
                var recent = aggregate._recent.Get(r.Unique(), out var twice);
                if (twice)
                {
                    throw new InvalidDataException("An exchange id is named twice.");
                }

                recent.Touch(StatisticsAggregate.UtcDay(r.Time()));
                // A set, as folding keeps it (a place written twice is held once; a repeat's earlier places are kept apart).
                foreach (var place in ReadPlaces(ref r, aggregate._parties.Count))
                {
                    var packed = aggregate.Pack(place);
                    if (!recent.Contains(packed))
                    {
                        recent.Add(packed);
                    }
                }
            }

            for (var kept = r.Count(); kept > 0; kept--)
            {
                var logged = LoggedRecord.ReadFrom(ref r, LogKind.Exchange);
                aggregate._kept.Add(logged);
                aggregate.Keep(logged, fresh: false);
            }

            aggregate._evictedAt = StatisticsAggregate.UtcDay(aggregate._latest);
            return r.AtEnd ? aggregate : null;
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        {
            return null;
        }
    }

    private static Cell ReadCell(ref AggregateReader r, int parties)
    {
        var kind = r.Kind();
        var provider = r.Count(parties) - 1;
        var user = r.Count(parties - 1);
        return new Cell(kind, provider, user);
    }

    private static List<Place> ReadPlaces(ref AggregateReader r, int parties)
    {
        var places = new List<Place>();
        for (var count = r.Count(); count > 0; count--)
        {
            var date = DateOnly.FromDayNumber(r.Count());
            places.Add(new Place(date, ReadCell(ref r, parties)));
        }

        return places;
    }

    private readonly record struct Cell(ExchangeKind Kind, int Provider, int User);

    /// <summary>Where a user's last counted record went: its kind, provider and day, and that day's cell, sums and place.</summary>
    private readonly record struct Counted(ExchangeKind Kind, string? Provider, DateOnly Date, Day Day, Cell Cell, Sums Sums, RecentExchanges.Place Place);

    /// <summary>A user as the fold knows it: its party number and where its last record was counted.</summary>
    private sealed class User(int id)
    {
        public int Id { get; } = id;

        public Counted Last;
    }

    private readonly record struct Place(DateOnly Date, Cell Cell);

    private sealed class Sums
    {
        public long Records { get; set; }

        public long Rows { get; set; }

        public long Bytes { get; set; }
    }

    private sealed record Repeat(Cell Cell, long Rows, long Bytes, List<Place> Earlier);

    private sealed class Day
    {
        public Dictionary<Cell, Sums> Cells { get; } = [];

        public List<Repeat> Repeats { get; } = [];
    }

    /// <summary>Several chains' aggregates as one digest: counts add up (an exchange id lives in one chain: one replica serves a request and logs all of it).</summary>
    private sealed class Combined : ExchangeDigest
    {
        private readonly IReadOnlyList<EvaluationAggregate> _parts;

        public Combined(IReadOnlyList<EvaluationAggregate> parts)
        {
            _parts = parts;
            Refusals = Merge(parts.Select(p => p._refusals));
        }

        public override long Records => _parts.Sum(p => p.Records);

        public override IReadOnlyList<LoggedRecord> Refusals { get; }

        public override IReadOnlyDictionary<string, ExchangeFigures> Count(DateOnly firstDay, DateOnly lastDay, Func<DateOnly, ExchangeCell, string?> group)
        {
            var totals = new Dictionary<string, (long Exchanges, long Rows, long Bytes)>(StringComparer.Ordinal);
            foreach (var part in _parts)
            {
                part.CountInto(totals, firstDay, lastDay, group);
            }

            return totals.Where(t => t.Value.Exchanges > 0).ToDictionary(t => t.Key, t => new ExchangeFigures(t.Value.Exchanges, t.Value.Rows, t.Value.Bytes), StringComparer.Ordinal);
        }

        public override IReadOnlyList<LoggedRecord> Pushes(string resourceCode) =>
            Merge(_parts.Select(p => p._pushes.TryGetValue(resourceCode, out var list) ? list : []));

        public override LoggedRecord? FirstPush(string exchangeId) =>
            Merge(_parts.Select(p => p._firstPush.TryGetValue(exchangeId, out var r) ? [r] : Array.Empty<LoggedRecord>())) is [var first, ..] ? first : null;

        public override LoggedRecord? FirstComparison(string exchangeId) =>
            Merge(_parts.Select(p => p._firstComparison.TryGetValue(exchangeId, out var r) ? [r] : Array.Empty<LoggedRecord>())) is [var first, ..] ? first : null;

        // One chain is in log order; records of several are put in time order, as the snapshot of every chain is.
        private IReadOnlyList<LoggedRecord> Merge(IEnumerable<IReadOnlyList<LoggedRecord>> lists)
        {
            var all = lists.ToList();
            return _parts.Count == 1
                ? all[0]
                : [.. all.SelectMany(l => l).OrderBy(r => r.Record.Time).ThenBy(r => r.Replica, StringComparer.Ordinal).ThenBy(r => r.Sequence)];
        }
    }
}
