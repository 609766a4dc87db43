using System.Text.Json.Serialization;
using GovShare.Node.Identity;

namespace GovShare.Node.Logs;

/// <summary>Length of a statistics bucket.</summary>
[JsonConverter(typeof(KebabEnumConverter<StatisticsPeriod>))]
public enum StatisticsPeriod
{
    Day,
    Month,
}

/// <summary>What a statistics row is about.</summary>
[JsonConverter(typeof(KebabEnumConverter<StatisticsDimension>))]
public enum StatisticsDimension
{
    /// <summary>One resource code.</summary>
    Resource,

    /// <summary>One department (credit code), as provider or as user of the exchanges.</summary>
    Department,
}

/// <summary>One row of the service statistics of Art. 28 (frequency, volume, users).</summary>
public sealed record ServiceStatistic(
    StatisticsDimension Dimension,
    string Key,
    StatisticsPeriod Period,
    DateOnly PeriodStart,
    long Exchanges,
    long Rows,
    long Bytes,
    int DistinctUsers);

/// <summary>
/// Service statistics computed from the exchange log itself, never from separate counters
/// that could drift from it. Counts successful exchanges (2xx) of kinds that move data
/// (push, pull, forward, compare); an exchange is one exchange id. Periods are calendar days
/// or months in the node's local offset (China Standard Time by default). A department row
/// counts the exchanges it took part in as provider or as user; its distinct users are the
/// departments (or acting-for departments) that used its data, itself included when it pulled.
/// </summary>
public static class LogStatistics
{
    /// <summary>UTC+8, the offset of every Chinese jurisdiction.</summary>
    public static readonly TimeSpan ChinaStandardTime = TimeSpan.FromHours(8);

    private static readonly HashSet<ExchangeKind> DataKinds = [ExchangeKind.Push, ExchangeKind.Pull, ExchangeKind.Forward, ExchangeKind.Compare];

    public static IReadOnlyList<ServiceStatistic> Compute(
        IEnumerable<LogRecord> exchangeLog,
        StatisticsDimension dimension,
        StatisticsPeriod period,
        TimeSpan utcOffset,
        DateOnly? from = null,
        DateOnly? to = null)
    {
        ArgumentNullException.ThrowIfNull(exchangeLog);
        var buckets = new Dictionary<(string Key, DateOnly Start), Bucket>();
        foreach (var record in exchangeLog)
        {
            if (!DataKinds.Contains(record.Kind) || record.Status is < 200 or > 299)
            {
                continue;
            }

            var day = DateOnly.FromDateTime(record.Time.ToOffset(utcOffset).DateTime);
            if ((from is { } f && day < f) || (to is { } t && day > t))
            {
                continue;
            }

            var start = period == StatisticsPeriod.Day ? day : new DateOnly(day.Year, day.Month, 1);
            foreach (var key in Keys(record, dimension))
            {
                if (!buckets.TryGetValue((key, start), out var bucket))
                {
                    bucket = new Bucket();
                    buckets[(key, start)] = bucket;
                }

                // Rows and bytes count once per exchange even when a node logged it twice (e.g. retried).
                if (bucket.ExchangeIds.Add(record.ExchangeId))
                {
                    bucket.Rows += record.Rows;
                    bucket.Bytes += record.Bytes;
                }

                bucket.Users.Add(UserKey(record.EffectiveUser));
            }
        }

        return [.. buckets
            .OrderBy(b => b.Key.Start).ThenBy(b => b.Key.Key, StringComparer.Ordinal)
            .Select(b => new ServiceStatistic(dimension, b.Key.Key, period, b.Key.Start, b.Value.ExchangeIds.Count, b.Value.Rows, b.Value.Bytes, b.Value.Users.Count))];
    }

    private static IEnumerable<string> Keys(LogRecord record, StatisticsDimension dimension)
    {
        if (dimension == StatisticsDimension.Resource)
        {
            if (record.ResourceCode is not null)
            {
                yield return record.ResourceCode;
            }

            yield break;
        }

        var user = UserKey(record.EffectiveUser);
        if (record.Provider is { } provider)
        {
            yield return provider;
        }

        if (user != record.Provider)
        {
            yield return user;
        }
    }

    /// <summary>A department's credit code from its URI; a node (or anything else) by its URI.</summary>
    private static string UserKey(string uri) => CallerIdentity.TryParse(uri) is { CreditCode: { } code } ? code : uri;

    private sealed class Bucket
    {
        public HashSet<string> ExchangeIds { get; } = new(StringComparer.Ordinal);

        public HashSet<string> Users { get; } = new(StringComparer.Ordinal);

        public long Rows { get; set; }

        public long Bytes { get; set; }
    }
}
