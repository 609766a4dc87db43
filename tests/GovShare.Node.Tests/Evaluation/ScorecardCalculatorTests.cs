using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Evaluation;

namespace GovShare.Node.Tests.Evaluation;

public sealed class ScorecardCalculatorTests
{
    private static readonly ScorecardCalculator Calculator = new(WorkingDayCalendar.Load(), new EvaluationOptions());

    [Theory]
    [InlineData(new int[0], null, null)]
    [InlineData(new[] { 7 }, 7.0, 7.0)]
    [InlineData(new[] { 2, 4 }, 3.0, 4.0)]
    [InlineData(new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, 5.5, 9.0)]
    [InlineData(new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 30 }, 6.0, 10.0)]
    public void MedianAndPercentile_SortedValues_NearestRank(int[] values, double? median, double? p90)
    {
        Assert.Equal(median, ScorecardCalculator.Median(values));
        Assert.Equal(p90, ScorecardCalculator.Percentile(values, 0.9));
    }

    [Theory]
    [InlineData(UpdateCycle.Daily, "2026-09-30", "2026-10-20")] // 1 October; 8, 9, Saturday 10 (adjusted), 12–16, 19, 20 October
    [InlineData(UpdateCycle.Monthly, "2026-01-05", "2026-02-26")] // 5 February; 6, 9–13, Saturday 14 (adjusted), Spring Festival 15–23 off, 24–26
    [InlineData(UpdateCycle.Quarterly, "2025-03-20", "2025-07-04")]
    [InlineData(UpdateCycle.Yearly, "2025-06-03", "2026-06-17")]
    public void DueAfter_CycleThenTenWorkingDays_OnTheShippedCalendar(UpdateCycle cycle, string day, string due)
    {
        Assert.Equal(DateOnly.Parse(due, System.Globalization.CultureInfo.InvariantCulture), Calculator.DueAfter(DateOnly.Parse(day, System.Globalization.CultureInfo.InvariantCulture), cycle, out var provisional));
        Assert.False(provisional);
    }

    [Fact]
    public void DueAfter_YearWithoutHolidayFile_ProvisionalWeekdaysOnly()
    {
        var due = Calculator.DueAfter(new DateOnly(2026, 12, 20), UpdateCycle.Monthly, out var provisional);
        Assert.True(provisional);
        Assert.Equal(new DateOnly(2027, 2, 3), due); // 20 January 2027, then ten weekdays
    }

    [Fact]
    public void WorkingDaysBetween_AcrossAMissingYear_CountsWeekdays() =>
        Assert.Equal(5, Calculator.WorkingDaysBetween(new DateOnly(2030, 1, 6), new DateOnly(2030, 1, 13)));

    [Fact]
    public void Validate_EveryBadSetting_AllReported()
    {
        var errors = new EvaluationOptions { RectificationWorkingDays = 0, CatalogCompileWorkingDays = 0, DataUpdateWorkingDays = -1, NoGrantAttempts = 1, NoGrantWindowDays = 0, MaxPeriodDays = 0 }.Validate();
        Assert.Equal(6, errors.Count);
        Assert.Empty(new EvaluationOptions().Validate());
    }

    [Fact]
    public void IdOf_SameKey_SameId() =>
        Assert.Equal(ViolationStore.IdOf("data-late:101001/000001:2027-05-25"), ViolationStore.IdOf("data-late:101001/000001:2027-05-25"));
}
