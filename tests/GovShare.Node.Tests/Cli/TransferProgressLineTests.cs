using GovShare.Cli.Commands;

namespace GovShare.Node.Tests.Cli;

/// <summary>
/// The progress line's arithmetic and wording, moment by moment: totals in rows (a pull the node
/// announced) or bytes (a file pushed), no total (standard input spooled elsewhere, a database),
/// and the moments that used to throw — nothing elapsed, nothing moved, more moved than
/// announced, totals near <see cref="long.MaxValue"/>.
/// </summary>
public sealed class TransferProgressLineTests
{
    private static string Line(long rows, long bytes, double seconds, long? totalRows = null, long? totalBytes = null, bool done = false) =>
        TransferProgressLine.Format("pull", new TransferSnapshot(rows, bytes, TimeSpan.FromSeconds(seconds), totalRows, totalBytes, done));

    [Fact]
    public void AnnouncedRows_TotalPercentageRateAndTimeLeft()
    {
        Assert.Equal("pull: 40,000 rows, 33% of 120,000 rows, 4.1 MB, 20,000 rows/s, ETA 0:04, 0:02",
            Line(40_000, 4_100_000, 2, totalRows: 120_000));
    }

    [Fact]
    public void AnnouncedRows_Done_EndsAtOneHundredPercent_WithoutTimeLeft()
    {
        Assert.Equal("pull: 120,000 rows, 100% of 120,000 rows, 12.0 MB, 40,000 rows/s, done in 0:03",
            Line(120_000, 12_000_000, 3, totalRows: 120_000, done: true));
    }

    [Fact]
    public void Percentage_RoundsDown_SoOneHundredMeansAllRows()
    {
        Assert.Contains(", 99% of 100,000 rows,", Line(99_999, 1, 1, totalRows: 100_000), StringComparison.Ordinal);
    }

    [Fact]
    public void FileSize_PercentageOfBytes_AsAPushShowsIt()
    {
        Assert.Equal("pull: 10,000 rows, 25% of 8.0 MB, 1.0 MB/s, ETA 0:06, 0:02",
            Line(10_000, 2_000_000, 2, totalBytes: 8_000_000));
    }

    [Fact]
    public void NoTotal_RowsBytesAndRate_NoPercentageNoTimeLeft()
    {
        var line = Line(50_000, 3_000_000, 2);

        Assert.Equal("pull: 50,000 rows, 3.0 MB, 1.5 MB/s, 0:02", line);
        Assert.DoesNotContain("%", line, StringComparison.Ordinal);
        Assert.DoesNotContain("ETA", line, StringComparison.Ordinal);
        Assert.Equal("pull: 50,000 rows, 25,000 rows/s, 0:02", Line(50_000, 0, 2));
    }

    [Fact]
    public void WhileReading_SmallAmountsInTheirUnit_NeverZeroMegabytes()
    {
        Assert.Equal("pull: 64.0 kB, 128.0 kB/s, 0:00", Line(0, 64_000, 0.5));
        Assert.Equal("pull: 0% of 9.0 MB, 0:00", Line(0, 0, 0.5, totalBytes: 9_000_000));
        Assert.Equal("pull: 512 B, 1.0 kB/s, 0:00", Line(0, 512, 0.5));
        Assert.Equal("pull: 2.5 GB, 0:00", Line(0, 2_500_000_000, 0));
    }

    [Fact]
    public void ZeroElapsed_NoRateNoTimeLeft_NoThrow()
    {
        Assert.Equal("pull: 1,000 rows, 0% of 120,000 rows, 100.0 kB, 0:00", Line(1_000, 100_000, 0, totalRows: 120_000));
        Assert.Equal("pull: 1,000 rows, 100.0 kB, 0:00", Line(1_000, 100_000, 0));
    }

    [Fact]
    public void NothingMovedYet_NoRateNoTimeLeft()
    {
        Assert.Equal("pull: 0 rows, 0% of 120,000 rows, 0:05", Line(0, 0, 5, totalRows: 120_000));
        Assert.Equal("pull: 0:05", Line(0, 0, 5));
    }

    [Fact]
    public void EmptyDataset_AnnouncedZero_IsAllDone()
    {
        Assert.Equal("pull: 0 rows, 100% of 0 rows, done in 0:01", Line(0, 0, 1, totalRows: 0, done: true));
    }

    [Fact]
    public void MoreThanAnnounced_CappedAtOneHundred_NoNegativeTimeLeft()
    {
        var line = Line(150_000, 0, 3, totalRows: 120_000);

        Assert.Contains("150,000 rows, 100% of 120,000 rows", line, StringComparison.Ordinal);
        Assert.DoesNotContain("ETA", line, StringComparison.Ordinal);
        Assert.Contains("100% of 1.0 kB", Line(0, 5_000, 3, totalBytes: 1_000), StringComparison.Ordinal);
    }

    [Fact]
    public void HugeTotals_NoOverflow_TimeLeftSaidToBeLong()
    {
        var rows = Line(1, 1, 1e-6, totalRows: long.MaxValue);
        var bytes = TransferProgressLine.Format("push", new TransferSnapshot(1, 1, TimeSpan.MaxValue, null, long.MaxValue, Done: false));
        var clocks = TransferProgressLine.Format("pull", new TransferSnapshot(long.MaxValue, long.MaxValue, TimeSpan.MaxValue, long.MaxValue, null, Done: true));

        Assert.Contains("0% of 9,223,372,036,854,775,807 rows", rows, StringComparison.Ordinal);
        Assert.Contains("ETA >99:59:59", rows, StringComparison.Ordinal);
        Assert.Contains("ETA >99:59:59", bytes, StringComparison.Ordinal);
        Assert.EndsWith(", done in >99:59:59", clocks, StringComparison.Ordinal);
        Assert.Contains("100% of 9,223,372,036,854,775,807 rows", clocks, StringComparison.Ordinal);
    }

    [Fact]
    public void NegativeValues_FromABrokenReport_ShownAsNothingMoved()
    {
        var line = Line(-5, -1, -1, totalRows: 10);

        Assert.Equal("pull: 0 rows, 0% of 10 rows, 0:00", line);
        Assert.Equal("pull: 0:00", Line(0, 0, 0, totalRows: -1));
    }

    [Theory]
    [InlineData(0, "0:00")]
    [InlineData(59.9, "0:59")]
    [InlineData(61, "1:01")]
    [InlineData(3600, "1:00:00")]
    [InlineData(359_999, "99:59:59")]
    [InlineData(360_000, ">99:59:59")]
    [InlineData(double.PositiveInfinity, ">99:59:59")]
    [InlineData(double.NaN, "0:00")]
    [InlineData(-3, "0:00")]
    public void Clock_HoursMinutesSeconds_AnyDouble(double seconds, string expected) => Assert.Equal(expected, TransferProgressLine.Clock(seconds));
}
