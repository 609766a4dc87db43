using GovShare.Node.Identity;
using GovShare.Node.Logs;

namespace GovShare.Node.Tests.Logs;

public sealed class LogStatisticsTests
{
    private static readonly string CodeA = CreditCode.Complete("11530100MB0000001");
    private static readonly string CodeB = CreditCode.Complete("11530100MB0000003");
    private static readonly string Provider = CreditCode.Complete("11530100MB0000002");
    private static readonly string UserA = "govshare:dept/530100/" + CodeA;
    private static readonly string UserB = "govshare:dept/530100/" + CodeB;

    private static LogRecord At(string time, string id, string resource, string caller, long rows, int status = 200, ExchangeKind kind = ExchangeKind.Pull) => new()
    {
        ExchangeId = id,
        Time = DateTimeOffset.Parse(time, System.Globalization.CultureInfo.InvariantCulture),
        Caller = caller,
        Kind = kind,
        ResourceCode = resource,
        Provider = Provider,
        Rows = rows,
        Bytes = rows * 10,
        Status = status,
    };

    private static readonly LogRecord[] Log =
    [
        At("2026-03-01T09:00:00+08:00", "e1", "R1", UserA, 5),
        At("2026-03-01T23:30:00+08:00", "e2", "R1", UserB, 7),
        // 2026-03-01T16:30Z is already 2 March in Kunming.
        At("2026-03-01T16:30:00+00:00", "e3", "R1", UserA, 11),
        At("2026-03-02T10:00:00+08:00", "e4", "R2", UserA, 13),
        At("2026-03-02T10:00:01+08:00", "e5", "R2", UserA, 100, status: 403),
        At("2026-03-02T10:00:02+08:00", "e6", "R2", UserA, 100, kind: ExchangeKind.CatalogQuery),
        At("2026-04-01T10:00:00+08:00", "e7", "R1", "govshare:node/530000", 17),
    ];

    [Fact]
    public void Compute_ByResourcePerDay_CountsSuccessfulDataExchangesInLocalDays()
    {
        var rows = LogStatistics.Compute(Log, StatisticsDimension.Resource, StatisticsPeriod.Day, LogStatistics.ChinaStandardTime);

        Assert.Equal(
        [
            new ServiceStatistic(StatisticsDimension.Resource, "R1", StatisticsPeriod.Day, new DateOnly(2026, 3, 1), 2, 12, 120, 2),
            new ServiceStatistic(StatisticsDimension.Resource, "R1", StatisticsPeriod.Day, new DateOnly(2026, 3, 2), 1, 11, 110, 1),
            new ServiceStatistic(StatisticsDimension.Resource, "R2", StatisticsPeriod.Day, new DateOnly(2026, 3, 2), 1, 13, 130, 1),
            new ServiceStatistic(StatisticsDimension.Resource, "R1", StatisticsPeriod.Day, new DateOnly(2026, 4, 1), 1, 17, 170, 1),
        ], rows);
    }

    [Fact]
    public void Compute_ByDepartmentPerMonth_CountsProviderAndUsers()
    {
        var rows = LogStatistics.Compute(Log, StatisticsDimension.Department, StatisticsPeriod.Month, LogStatistics.ChinaStandardTime);

        var march = rows.Where(r => r.PeriodStart == new DateOnly(2026, 3, 1)).ToDictionary(r => r.Key);
        Assert.Equal(4, march[Provider].Exchanges);
        Assert.Equal(36, march[Provider].Rows);
        Assert.Equal(2, march[Provider].DistinctUsers);
        Assert.Equal(3, march[CodeA].Exchanges);
        Assert.Equal(1, march[CodeB].Exchanges);
        var april = rows.Where(r => r.PeriodStart == new DateOnly(2026, 4, 1)).ToDictionary(r => r.Key);
        Assert.Equal(1, april["govshare:node/530000"].Exchanges);
    }

    [Fact]
    public void Compute_SameExchangeLoggedTwiceAndDateRange_CountsOnceWithinRange()
    {
        LogRecord[] log = [.. Log, Log[0] with { Time = Log[0].Time.AddSeconds(1) }];

        var rows = LogStatistics.Compute(log, StatisticsDimension.Resource, StatisticsPeriod.Month, LogStatistics.ChinaStandardTime, new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 1));

        var r1 = Assert.Single(rows);
        Assert.Equal(2, r1.Exchanges);
        Assert.Equal(12, r1.Rows);
    }
}
