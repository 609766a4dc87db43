using GovShare.Node.Identity;

namespace GovShare.Node.Logs;

/// <summary>
/// The service statistics of <see cref="LogStatistics"/> kept as running per-day totals, folded
/// one exchange-log entry at a time, so <c>GET /v1/stats</c> reads only what was appended since
/// the last answer instead of the whole log. Answers equal <see cref="LogStatistics.Compute"/>
/// over the same entries for every dimension, period and date range:
/// <list type="bullet">
/// <item>a day bucket (dimension, key, local day) holds the exchanges, rows and bytes counted
/// once per exchange id, and the set of users;</item>
/// <item>a month answer sums the day buckets in range and unions their users; an exchange id
/// seen on two days of one month was counted on both, so the later day keeps a
/// <see cref="Carry"/> naming the earlier days, subtracted when one of them is in range.</item>
/// </list>
/// Exchange ids are remembered for <see cref="DuplicateWindow"/> after their last record: a
/// record of the same exchange later than that counts again (a full scan would merge it). No
/// exchange of this node lasts that long; the window bounds memory to a week of ids, each held
/// compactly (<see cref="RecentExchanges"/>: the id's 128 bits, its last time and the buckets it
/// was counted in, each packed into a <see cref="ulong"/> by <see cref="Place"/>).
/// The buckets are indexed per dimension by day (a sorted list of days, each day's buckets by key),
/// so an answer over a date range reads the days in range, not every bucket of the history.
/// </summary>
public sealed class StatisticsAggregate : IChainAggregate
{
    /// <summary>How long an exchange id is remembered to count a repeated record of it once.</summary>
    public static readonly TimeSpan DuplicateWindow = TimeSpan.FromDays(7);

    /// <summary>The saved body's tag and version (<see cref="AggregateWriter"/>); 1 was JSON.</summary>
    private const string Tag = "statistics";
    private const int FormatVersion = 2;

    /// <summary>How many users' URIs are remembered parsed (far more departments than a province has).</summary>
    private const int MaxUserKeys = 4096;

    private static readonly HashSet<ExchangeKind> DataKinds = [ExchangeKind.Push, ExchangeKind.Pull, ExchangeKind.Forward, ExchangeKind.Compare];

    private readonly Dictionary<StatisticsDimension, SortedList<DateOnly, Dictionary<string, DayBucket>>> _days = [];
    // A record is counted at up to three buckets (resource, provider, user), all on its day: one slot holds them.
    private readonly RecentExchanges _recent = new(inline: 3);

    // The bucket keys, numbered for the places of _recent; as few as the buckets' keys.
    private readonly Dictionary<string, int> _keyIds = new(StringComparer.Ordinal);
    private readonly List<string> _keys = [];

    /// <summary>
    /// The users (their key, a department's credit code, and what the fold remembers of them) by the URI a record
    /// names, parsed once each. Not saved; bounded, so a log of ever new callers costs a parse per record past the
    /// bound, not memory.
    /// </summary>
    private readonly Dictionary<string, User> _userKeys = new(StringComparer.Ordinal);

    // The bucket and place the last record was counted at by its resource and by its provider (a user's own are on
    // its User), so a record of the same key and day as the one before finds them without the dictionaries: one
    // record after another names the same resource and provider on the same day. Never stale: a bucket once made
    // is never removed or replaced, a key's number never changes (an aggregate is only added to; a load makes a
    // new one), and a record of another key or day looks its bucket up again.
    private Last _lastResource;
    private Last _lastProvider;

    private DateTimeOffset _latest = DateTimeOffset.MinValue;

    // The latest UTC day the ids were last forgotten at: they are forgotten once a day, when the latest record's day moves on.
    private int _evictedAt;

    public StatisticsAggregate(TimeSpan utcOffset) => UtcOffset = utcOffset;

    /// <summary>The offset that defines a local day (China Standard Time for the node).</summary>
    public TimeSpan UtcOffset { get; }

    /// <summary>Sequence of the last log entry folded in (0 = none).</summary>
    public long Sequence { get; private set; }

    /// <summary>Hash of that entry, to check at start that the log is still the one folded.</summary>
    public string Hash { get; private set; } = LogEntry.GenesisHash;

    /// <summary>Folds the next entry of the exchange log; entries must come in sequence order.</summary>
    public void Fold(LogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Sequence != Sequence + 1)
        {
            throw new ArgumentException($"Entry {entry.Sequence} does not follow folded sequence {Sequence}.", nameof(entry));
        }

        if (entry.Type == LogEntryType.Record && entry.Record is { } record)
        {
            Fold(record);
        }

        Sequence = entry.Sequence;
        Hash = entry.Hash;
    }

    private void Fold(LogRecord record)
    {
        if (!DataKinds.Contains(record.Kind) || record.Status is < 200 or > 299)
        {
            return;
        }

        if (record.Time > _latest)
        {
            _latest = record.Time;
        }

        var day = DateOnly.FromDateTime(record.Time.ToOffset(UtcOffset).DateTime);
        // A view into _recent: nothing below adds or removes an id until the eviction.
        var recent = _recent.Get(record.ExchangeId, out var seen);
        recent.Touch(UtcDay(record.Time));
        var user = UserOf(record.EffectiveUser);
        // The buckets a record counts at, as the full scan's keys: its resource, its provider, its user
        // (when not the provider). Called in turn, not through an iterator: this runs for every record folded.
        // The three places are distinct (two dimensions; the user's key only when it is not the provider's).
        if (record.ResourceCode is { } code)
        {
            Count(record, recent, seen, user, ref _lastResource, ref user.AddedToResource, StatisticsDimension.Resource, code, day);
        }

        if (record.Provider is { } provider)
        {
            Count(record, recent, seen, user, ref _lastProvider, ref user.AddedToProvider, StatisticsDimension.Department, provider, day);
        }

        if (user.Key != record.Provider)
        {
            Count(record, recent, seen, user, ref user.Own, ref user.AddedToOwn, StatisticsDimension.Department, user.Key, day);
        }

        // Forget old ids once a day, not per record: one pass over the table when the latest day moves on.
        if (UtcDay(_latest) > _evictedAt)
        {
            Evict();
        }
    }

    /// <summary>
    /// Counts the record at the bucket of (<paramref name="dimension"/>, <paramref name="key"/>, <paramref name="day"/>)
    /// unless its exchange was counted there. <paramref name="last"/> is where this place of the record before was
    /// counted (of the same dimension); <paramref name="addedTo"/> the bucket of this place the user was last added to.
    /// </summary>
    private void Count(LogRecord record, RecentExchanges.Seen recent, bool seen, User user, ref Last last, ref DayBucket? addedTo, StatisticsDimension dimension, string key, DateOnly day)
    {
        if (last.Bucket is null || last.Day != day || !string.Equals(last.Key, key, StringComparison.Ordinal))
        {
            last = new Last(key, day, Bucket(new BucketKey(dimension, key, day)), Place(dimension, key, day));
        }

        var bucket = last.Bucket;
        // A user is added to a bucket's set once: its User remembers the bucket it was last added to here (a user
        // is never removed from a bucket). A URI's User is one object while it is in _userKeys, so this is the
        // set's own test by reference; past the bound a new User adds again, which the set ignores.
        if (!ReferenceEquals(addedTo, bucket))
        {
            bucket.Users.Add(user.Key);
            addedTo = bucket;
        }

        var place = last.Place;
        // A new id was counted nowhere, and a record's places are distinct: nothing to look for.
        if (seen && recent.Contains(place))
        {
            return;
        }

        bucket.Exchanges++;
        bucket.Rows += record.Rows;
        bucket.Bytes += record.Bytes;
        // A plain loop: this runs for every dimension of every record folded, and an exchange
        // seen on an earlier day of the month (the only case that needs a list) is rare.
        List<DateOnly>? earlier = null;
        for (int i = 0, counted = seen ? recent.Count : 0; i < counted; i++)
        {
            var at = recent[i];
            if (SameKey(at, place) && PlaceDay(at) is var earlierDay && earlierDay.Year == day.Year && earlierDay.Month == day.Month)
            {
                (earlier ??= []).Add(earlierDay);
            }
        }

        if (earlier is not null)
        {
            bucket.Carries.Add(new Carry(earlier, record.Rows, record.Bytes));
        }

        recent.Add(place);
    }

    /// <summary>The UTC day of <paramref name="time"/> (<see cref="DateOnly.DayNumber"/>), by which ids are remembered and forgotten.</summary>
    internal static int UtcDay(DateTimeOffset time) => (int)(time.UtcTicks / TimeSpan.TicksPerDay);

    /// <summary>The window in whole days: an id last seen on UTC day d is kept while the latest day is at most d + this (7 to 8 days).</summary>
    internal static int WindowDays => (int)DuplicateWindow.TotalDays;

    /// <summary>A bucket as a place of <see cref="RecentExchanges"/>: its day and the number of (dimension, key), the key's number times two plus the dimension.</summary>
    private RecentExchanges.Place Place(StatisticsDimension dimension, string key, DateOnly day)
    {
        if (!_keyIds.TryGetValue(key, out var id))
        {
            _keyIds[key] = id = _keys.Count;
            _keys.Add(key);
        }

        return new(day.DayNumber, checked((uint)((id * 2) + (int)dimension)));
    }

    private static bool SameKey(RecentExchanges.Place a, RecentExchanges.Place b) => a.Key == b.Key;

    private static DateOnly PlaceDay(RecentExchanges.Place place) => DateOnly.FromDayNumber(place.Day);

    private DayBucket Bucket(BucketKey at)
    {
        if (!_days.TryGetValue(at.Dimension, out var days))
        {
            _days[at.Dimension] = days = [];
        }

        // Days come in order (a log is written in time order): adding the latest day is an append.
        if (!days.TryGetValue(at.Day, out var buckets))
        {
            days[at.Day] = buckets = new Dictionary<string, DayBucket>(StringComparer.Ordinal);
        }

        if (!buckets.TryGetValue(at.Key, out var bucket))
        {
            buckets[at.Key] = bucket = new DayBucket();
        }

        return bucket;
    }

    /// <summary>The buckets of <paramref name="dimension"/> from <paramref name="from"/> to <paramref name="to"/>: a binary search for the first day, then the days in range only.</summary>
    private IEnumerable<KeyValuePair<BucketKey, DayBucket>> Buckets(StatisticsDimension dimension, DateOnly? from, DateOnly? to)
    {
        if (!_days.TryGetValue(dimension, out var days))
        {
            yield break;
        }

        var keys = days.Keys;
        int low = 0, high = keys.Count;
        while (from is { } first && low < high)
        {
            var middle = (low + high) / 2;
            if (keys[middle] < first)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        for (var i = low; i < keys.Count && (to is not { } last || keys[i] <= last); i++)
        {
            foreach (var (key, bucket) in days.Values[i])
            {
                yield return new(new BucketKey(dimension, key, keys[i]), bucket);
            }
        }
    }

    private void Evict()
    {
        _evictedAt = UtcDay(_latest);
        _recent.Evict(_evictedAt - WindowDays);
    }

    /// <summary>The same rows as <see cref="LogStatistics.Compute"/> over the folded entries.</summary>
    public IReadOnlyList<ServiceStatistic> Query(StatisticsDimension dimension, StatisticsPeriod period, DateOnly? from = null, DateOnly? to = null) =>
        Query([this], dimension, period, from, to);

    /// <summary>
    /// The same rows as <see cref="LogStatistics.Compute"/> over the entries of several chains
    /// (the replicas of one node): day buckets of one key and day add up and their users are
    /// united; each chain's carries are subtracted as in one. Exact because an exchange id lives
    /// in one chain: one request is served by one replica, which logs every record of it.
    /// </summary>
    public static IReadOnlyList<ServiceStatistic> Query(IReadOnlyList<StatisticsAggregate> parts, StatisticsDimension dimension, StatisticsPeriod period, DateOnly? from = null, DateOnly? to = null)
    {
        ArgumentNullException.ThrowIfNull(parts);
        bool InRange(DateOnly day) => (from is not { } f || day >= f) && (to is not { } t || day <= t);
        var selected = parts.SelectMany(p => p.Buckets(dimension, from, to)).ToList();
        if (period == StatisticsPeriod.Day)
        {
            return [.. selected
                .GroupBy(b => b.Key)
                .Select(day => new ServiceStatistic(dimension, day.Key.Key, period, day.Key.Day,
                    day.Sum(b => b.Value.Exchanges), day.Sum(b => b.Value.Rows), day.Sum(b => b.Value.Bytes),
                    day.Count() == 1 ? day.First().Value.Users.Count : day.SelectMany(b => b.Value.Users).Distinct(StringComparer.Ordinal).Count()))
                .OrderBy(r => r.PeriodStart).ThenBy(r => r.Key, StringComparer.Ordinal)];
        }

        var rows = new List<ServiceStatistic>();
        foreach (var month in selected.GroupBy(b => (b.Key.Key, Start: new DateOnly(b.Key.Day.Year, b.Key.Day.Month, 1))))
        {
            long exchanges = 0, rowCount = 0, bytes = 0;
            var users = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (_, bucket) in month)
            {
                exchanges += bucket.Exchanges;
                rowCount += bucket.Rows;
                bytes += bucket.Bytes;
                users.UnionWith(bucket.Users);
                foreach (var carry in bucket.Carries.Where(c => c.EarlierDays.Any(InRange)))
                {
                    exchanges--;
                    rowCount -= carry.Rows;
                    bytes -= carry.Bytes;
                }
            }

            rows.Add(new ServiceStatistic(dimension, month.Key.Key, period, month.Key.Start, exchanges, rowCount, bytes, users.Count));
        }

        return [.. rows.OrderBy(r => r.PeriodStart).ThenBy(r => r.Key, StringComparer.Ordinal)];
    }

    /// <summary>The aggregate in the saved format (<see cref="AggregateWriter"/>), for <see cref="TryLoad"/>.</summary>
    public byte[] Serialize()
    {
        var w = new AggregateWriter(Tag, FormatVersion);
        w.Number(UtcOffset.Ticks);
        w.Number(Sequence);
        w.Text(Hash);
        w.Time(_latest);
        w.Number(_days.Count);
        foreach (var (dimension, days) in _days)
        {
            w.Number((long)dimension);
            w.Number(days.Count);
            foreach (var (day, buckets) in days)
            {
                w.Number(day.DayNumber);
                w.Number(buckets.Count);
                foreach (var (key, bucket) in buckets)
                {
                    w.Text(key);
                    w.Number(bucket.Exchanges);
                    w.Number(bucket.Rows);
                    w.Number(bucket.Bytes);
                    w.Number(bucket.Users.Count);
                    foreach (var user in bucket.Users)
                    {
                        w.Text(user);
                    }

                    w.Number(bucket.Carries.Count);
                    foreach (var carry in bucket.Carries)
                    {
                        w.Number(carry.EarlierDays.Count);
                        foreach (var earlier in carry.EarlierDays)
                        {
                            w.Number(earlier.DayNumber);
                        }

                        w.Number(carry.Rows);
                        w.Number(carry.Bytes);
                    }
                }
            }
        }

        // The same body as before the ids were packed (format 2): the id as text, the time (now at
        // offset zero: only the instant is compared), each bucket as dimension, key and day.
        // The last time is now the start of the UTC day last seen (ids are kept and forgotten by day).
        w.Number(_recent.Count);
        foreach (var (id, lastDay, places) in _recent.All())
        {
            w.Unique(id);
            w.Time(StartOfUtcDay(lastDay));
            w.Number(places.Count);
            foreach (var counted in places)
            {
                w.Number(counted.Key % 2);
                w.Text(_keys[(int)(counted.Key / 2)]);
                w.Number(counted.Day);
            }
        }

        return w.Written.ToArray();
    }

    /// <summary>An aggregate read back from <see cref="Serialize"/>'s bytes; null when torn, of another aggregate, format version or offset.</summary>
    public static StatisticsAggregate? TryLoad(ReadOnlySpan<byte> bytes, TimeSpan utcOffset)
    {
        var r = new AggregateReader(bytes, Tag, FormatVersion, out var matches);
        if (!matches)
        {
            return null;
        }

        try
        {
            if (r.Number() != utcOffset.Ticks)
            {
                return null;
            }

            var sequence = r.Number();
            var aggregate = new StatisticsAggregate(utcOffset)
            {
                Sequence = sequence >= 0 ? sequence : throw new InvalidDataException("A negative sequence."),
                Hash = r.Required(),
                _latest = r.Time(),
            };
            for (var dimensions = r.Count(); dimensions > 0; dimensions--)
            {
                var dimension = Dimension(r.Number());
                for (var days = r.Count(); days > 0; days--)
                {
                    var day = DateOnly.FromDayNumber(r.Count());
                    for (var buckets = r.Count(); buckets > 0; buckets--)
                    {
                        var bucket = aggregate.Bucket(new BucketKey(dimension, r.Required(), day));
                        bucket.Exchanges = r.Number();
                        bucket.Rows = r.Number();
                        bucket.Bytes = r.Number();
                        for (var users = r.Count(); users > 0; users--)
                        {
                            bucket.Users.Add(r.Required());
                        }

                        for (var carries = r.Count(); carries > 0; carries--)
                        {
                            var earlier = new DateOnly[r.Count(bytes.Length)];
                            for (var i = 0; i < earlier.Length; i++)
                            {
                                earlier[i] = DateOnly.FromDayNumber(r.Count());
                            }

                            bucket.Carries.Add(new Carry(earlier, r.Number(), r.Number()));
                        }
                    }
                }
            }

            for (var ids = r.Count(); ids > 0; ids--)
            {
                var recent = aggregate._recent.Get(r.Unique(), out var twice);
                if (twice)
                {
                    throw new InvalidDataException("An exchange id is named twice.");
                }

                recent.Touch(UtcDay(r.Time()));
                for (var counted = r.Count(); counted > 0; counted--)
                {
                    var place = aggregate.Place(Dimension(r.Number()), r.Required(), DateOnly.FromDayNumber(r.Count()));
                    // A set, as before: a bucket named twice in a file is counted once.
                    if (!recent.Contains(place))
                    {
                        recent.Add(place);
                    }
                }
            }

            aggregate._evictedAt = UtcDay(aggregate._latest);
            return r.AtEnd ? aggregate : null;
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        {
            return null;
        }
    }

    private static StatisticsDimension Dimension(long value) =>
        Enum.IsDefined((StatisticsDimension)value) ? (StatisticsDimension)value : throw new InvalidDataException("An unknown dimension.");

    private User UserOf(string uri)
    {
        // Parsing the URI (a split, a credit code's check digit) was a good part of a rebuild's time per record; the users are few.
        if (!_userKeys.TryGetValue(uri, out var user))
        {
            user = new User(CallerIdentity.TryParse(uri) is { CreditCode: { } code } ? code : uri);
            if (_userKeys.Count < MaxUserKeys)
            {
                _userKeys[uri] = user;
            }
        }

        return user;
    }

    /// <summary>Midnight UTC of day <paramref name="day"/>, as the saved file's time of an id.</summary>
    internal static DateTimeOffset StartOfUtcDay(int day) => new(day * TimeSpan.TicksPerDay, TimeSpan.Zero);

    private readonly record struct BucketKey(StatisticsDimension Dimension, string Key, DateOnly Day);

    /// <summary>Where a record was last counted by one of its keys: the key, the day, the bucket and its place.</summary>
    private readonly record struct Last(string Key, DateOnly Day, DayBucket Bucket, RecentExchanges.Place Place);

    /// <summary>A user as the fold knows it: its key, where it was last counted as a department, and the buckets it was last added to.</summary>
    private sealed class User(string key)
    {
        public string Key { get; } = key;

        public Last Own;

        public DayBucket? AddedToResource;

        public DayBucket? AddedToProvider;

        public DayBucket? AddedToOwn;
    }

    private sealed class DayBucket
    {
        public long Exchanges { get; set; }

        public long Rows { get; set; }

        public long Bytes { get; set; }

        public HashSet<string> Users { get; } = new(StringComparer.Ordinal);

        public List<Carry> Carries { get; } = [];
    }

    /// <summary>A repeated exchange counted on a later day of the month than <paramref name="EarlierDays"/>.</summary>
    public sealed record Carry(IReadOnlyList<DateOnly> EarlierDays, long Rows, long Bytes);
}
