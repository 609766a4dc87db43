using System.Text.Json;
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
/// exchange of this node lasts that long; the window bounds memory to a week of ids.
/// </summary>
public sealed class StatisticsAggregate : IChainAggregate
{
    /// <summary>How long an exchange id is remembered to count a repeated record of it once.</summary>
    public static readonly TimeSpan DuplicateWindow = TimeSpan.FromDays(7);

    private const int FormatVersion = 1;
    private static readonly HashSet<ExchangeKind> DataKinds = [ExchangeKind.Push, ExchangeKind.Pull, ExchangeKind.Forward, ExchangeKind.Compare];

    private readonly Dictionary<BucketKey, DayBucket> _buckets = [];
    private readonly Dictionary<string, RecentExchange> _recent = new(StringComparer.Ordinal);
    private DateTimeOffset _latest = DateTimeOffset.MinValue;
    private long _sinceEviction;

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
        if (!_recent.TryGetValue(record.ExchangeId, out var recent))
        {
            recent = new RecentExchange();
            _recent[record.ExchangeId] = recent;
        }

        recent.LastSeen = record.Time > recent.LastSeen ? record.Time : recent.LastSeen;
        var user = UserKey(record.EffectiveUser);
        foreach (var (dimension, key) in Keys(record, user))
        {
            var bucketKey = new BucketKey(dimension, key, day);
            if (!_buckets.TryGetValue(bucketKey, out var bucket))
            {
                bucket = new DayBucket();
                _buckets[bucketKey] = bucket;
            }

            bucket.Users.Add(user);
            if (recent.Counted.Contains(bucketKey))
            {
                continue;
            }

            bucket.Exchanges++;
            bucket.Rows += record.Rows;
            bucket.Bytes += record.Bytes;
            var earlier = recent.Counted
                .Where(k => k.Dimension == dimension && k.Key == key && k.Day.Year == day.Year && k.Day.Month == day.Month)
                .Select(k => k.Day).ToList();
            if (earlier.Count > 0)
            {
                bucket.Carries.Add(new Carry(earlier, record.Rows, record.Bytes));
            }

            recent.Counted.Add(bucketKey);
        }

        // Forget old ids now and then, not per record: a scan of a week of ids is cheap once per 4096.
        if (++_sinceEviction >= 4096)
        {
            Evict();
        }
    }

    private void Evict()
    {
        _sinceEviction = 0;
        var horizon = _latest - DuplicateWindow;
        foreach (var id in _recent.Where(r => r.Value.LastSeen < horizon).Select(r => r.Key).ToList())
        {
            _recent.Remove(id);
        }
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
        var selected = parts.SelectMany(p => p._buckets).Where(b => b.Key.Dimension == dimension && InRange(b.Key.Day)).ToList();
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

    /// <summary>The aggregate as one JSON line, for <see cref="TryLoad"/>.</summary>
    public byte[] Serialize()
    {
        var state = new Persisted(
            FormatVersion,
            UtcOffset.Ticks,
            Sequence,
            Hash,
            _latest,
            [.. _buckets.Select(b => new PersistedBucket(b.Key.Dimension, b.Key.Key, b.Key.Day, b.Value.Exchanges, b.Value.Rows, b.Value.Bytes, [.. b.Value.Users], b.Value.Carries))],
            [.. _recent.Select(r => new PersistedRecent(r.Key, r.Value.LastSeen, [.. r.Value.Counted.Select(k => new PersistedBucketKey(k.Dimension, k.Key, k.Day))]))]);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(state, JsonOptions);
        return [.. bytes, (byte)'\n'];
    }

    /// <summary>An aggregate read back from <see cref="Serialize"/>'s bytes; null when torn, of another format or offset.</summary>
    public static StatisticsAggregate? TryLoad(ReadOnlySpan<byte> bytes, TimeSpan utcOffset)
    {
        Persisted? state;
        try
        {
            state = JsonSerializer.Deserialize<Persisted>(bytes, JsonOptions);
        }
        catch (JsonException)
        {
            return null;
        }

        if (state is null || state.Version != FormatVersion || state.UtcOffsetTicks != utcOffset.Ticks || state.Sequence < 0 || state.Hash is null
            || state.Buckets is null || state.Recent is null)
        {
            return null;
        }

        var aggregate = new StatisticsAggregate(utcOffset) { Sequence = state.Sequence, Hash = state.Hash, _latest = state.Latest };
        foreach (var b in state.Buckets)
        {
            var bucket = new DayBucket { Exchanges = b.Exchanges, Rows = b.Rows, Bytes = b.Bytes };
            bucket.Users.UnionWith(b.Users ?? []);
            bucket.Carries.AddRange(b.Carries ?? []);
            aggregate._buckets[new BucketKey(b.Dimension, b.Key, b.Day)] = bucket;
        }

        foreach (var r in state.Recent)
        {
            var recent = new RecentExchange { LastSeen = r.LastSeen };
            recent.Counted.UnionWith((r.Counted ?? []).Select(k => new BucketKey(k.Dimension, k.Key, k.Day)));
            aggregate._recent[r.ExchangeId] = recent;
        }

        return aggregate;
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private static IEnumerable<(StatisticsDimension, string)> Keys(LogRecord record, string user)
    {
        if (record.ResourceCode is not null)
        {
            yield return (StatisticsDimension.Resource, record.ResourceCode);
        }

        if (record.Provider is { } provider)
        {
            yield return (StatisticsDimension.Department, provider);
        }

        if (user != record.Provider)
        {
            yield return (StatisticsDimension.Department, user);
        }
    }

    private static string UserKey(string uri) => CallerIdentity.TryParse(uri) is { CreditCode: { } code } ? code : uri;

    private readonly record struct BucketKey(StatisticsDimension Dimension, string Key, DateOnly Day);

    private sealed class DayBucket
    {
        public long Exchanges { get; set; }

        public long Rows { get; set; }

        public long Bytes { get; set; }

        public HashSet<string> Users { get; } = new(StringComparer.Ordinal);

        public List<Carry> Carries { get; } = [];
    }

    private sealed class RecentExchange
    {
        public DateTimeOffset LastSeen { get; set; } = DateTimeOffset.MinValue;

        public HashSet<BucketKey> Counted { get; } = [];
    }

    /// <summary>A repeated exchange counted on a later day of the month than <paramref name="EarlierDays"/>.</summary>
    public sealed record Carry(IReadOnlyList<DateOnly> EarlierDays, long Rows, long Bytes);

    private sealed record Persisted(int Version, long UtcOffsetTicks, long Sequence, string Hash, DateTimeOffset Latest, List<PersistedBucket> Buckets, List<PersistedRecent> Recent);

    private sealed record PersistedBucket(StatisticsDimension Dimension, string Key, DateOnly Day, long Exchanges, long Rows, long Bytes, List<string>? Users, List<Carry>? Carries);

    private sealed record PersistedBucketKey(StatisticsDimension Dimension, string Key, DateOnly Day);

    private sealed record PersistedRecent(string ExchangeId, DateTimeOffset LastSeen, List<PersistedBucketKey>? Counted);
}
