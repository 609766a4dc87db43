using GovShare.Node.Calendar;

namespace GovShare.Node.Tests.Calendar;

public sealed class WorkingDayCalendarTests
{
    // A made-up year 2030: a holiday Tue 1 – Fri 4 Oct, with Sat 5 Oct worked in exchange.
    // 2030-10-01 is a Tuesday.
    private static WorkingDayCalendar Test() => new(
    [
        new HolidayFile(2030, "TEST", "test notice", null,
            [new HolidayPeriod("国庆节", new DateOnly(2030, 10, 1), new DateOnly(2030, 10, 4))],
            [new AdjustedWorkingDay(new DateOnly(2030, 10, 5), "调休")]),
    ]);

    [Fact]
    public void IsWorkingDay_HolidayWeekendAndAdjustedDay_Classified()
    {
        var calendar = Test();
        Assert.True(calendar.IsWorkingDay(new DateOnly(2030, 9, 30)));   // Monday
        Assert.False(calendar.IsWorkingDay(new DateOnly(2030, 10, 1)));  // holiday, a Tuesday
        Assert.False(calendar.IsWorkingDay(new DateOnly(2030, 10, 4)));  // holiday, a Friday
        Assert.True(calendar.IsWorkingDay(new DateOnly(2030, 10, 5)));   // adjusted working Saturday
        Assert.False(calendar.IsWorkingDay(new DateOnly(2030, 10, 6)));  // ordinary Sunday
    }

    [Fact]
    public void AddWorkingDays_AcrossHolidayWithAdjustedDay_SkipsHolidayCountsSaturday()
    {
        var calendar = Test();

        // From Mon 30 Sep: 1 → Sat 5 Oct (the adjusted day), 2 → Mon 7 Oct, 3 → Tue 8 Oct.
        Assert.Equal(new DateOnly(2030, 10, 5), calendar.AddWorkingDays(new DateOnly(2030, 9, 30), 1));
        Assert.Equal(new DateOnly(2030, 10, 7), calendar.AddWorkingDays(new DateOnly(2030, 9, 30), 2));
        Assert.Equal(new DateOnly(2030, 10, 8), calendar.AddWorkingDays(new DateOnly(2030, 9, 30), 3));
        Assert.Equal(new DateOnly(2030, 9, 30), calendar.AddWorkingDays(new DateOnly(2030, 10, 5), -1));
        Assert.Equal(new DateOnly(2030, 9, 30), calendar.AddWorkingDays(new DateOnly(2030, 9, 30), 0));
    }

    [Fact]
    public void WorkingDaysBetween_AcrossHoliday_CountsExclusiveStartInclusiveEnd()
    {
        var calendar = Test();
        Assert.Equal(3, calendar.WorkingDaysBetween(new DateOnly(2030, 9, 30), new DateOnly(2030, 10, 8)));
        Assert.Equal(-3, calendar.WorkingDaysBetween(new DateOnly(2030, 10, 8), new DateOnly(2030, 9, 30)));
        Assert.Equal(0, calendar.WorkingDaysBetween(new DateOnly(2030, 10, 1), new DateOnly(2030, 10, 4)));

        for (var n = 0; n < 40; n++)
        {
            var start = new DateOnly(2030, 9, 1);
            Assert.Equal(n, calendar.WorkingDaysBetween(start, calendar.AddWorkingDays(start, n)));
        }
    }

    [Fact]
    public void AddWorkingDays_DateTimeOffset_ReckonsInChinaStandardTime()
    {
        var calendar = Test();

        // 20:00 UTC on Sun 29 Sep is 04:00 on Mon 30 Sep in Beijing.
        var result = calendar.AddWorkingDays(new DateTimeOffset(2030, 9, 29, 20, 0, 0, TimeSpan.Zero), 1);
        Assert.Equal(new DateTimeOffset(2030, 10, 5, 4, 0, 0, TimeSpan.FromHours(8)), result);
    }

    [Fact]
    public void IsWorkingDay_YearWithoutFile_ThrowsNamingTheYear()
    {
        var calendar = Test();
        var ex = Assert.Throws<CalendarYearMissingException>(() => calendar.IsWorkingDay(new DateOnly(2031, 1, 2)));
        Assert.Equal(2031, ex.Year);
        Assert.Throws<CalendarYearMissingException>(() => calendar.AddWorkingDays(new DateOnly(2030, 12, 30), 5));
    }

    [Fact]
    public void AddWorkingDaysProvisional_IntoYearWithoutFile_CountsWeekendsOnlyAndSaysSo()
    {
        var calendar = Test();

        // Mon 30 Dec 2030 + 5: Tue 31 Dec (from the file), then Wed 1 to Fri 3 Jan 2031 and Mon 6 Jan:
        // without 2031 holidays New Year's Day counts as working, which is why the date is provisional.
        var due = calendar.AddWorkingDays(new DateOnly(2030, 12, 30), 5, out var provisional);

        Assert.True(provisional);
        Assert.Equal(new DateOnly(2031, 1, 6), due);
        calendar.AddWorkingDays(new DateOnly(2030, 12, 2), 3, out var inside);
        Assert.False(inside);
    }

    [Fact]
    public void Load_ShippedFiles_Have2025And2026AsPublished()
    {
        var calendar = WorkingDayCalendar.Load();
        Assert.Contains(2025, calendar.Years);
        Assert.Contains(2026, calendar.Years);
        Assert.All(calendar.Files, f => Assert.Contains("国务院办公厅", f.Source, StringComparison.Ordinal));

        Assert.False(calendar.IsWorkingDay(new DateOnly(2026, 1, 2)));   // New Year, Friday
        Assert.True(calendar.IsWorkingDay(new DateOnly(2026, 1, 4)));    // worked Sunday
        Assert.True(calendar.IsWorkingDay(new DateOnly(2026, 2, 14)));   // worked Saturday
        Assert.False(calendar.IsWorkingDay(new DateOnly(2026, 2, 23)));  // last day of Spring Festival, Monday
        Assert.True(calendar.IsWorkingDay(new DateOnly(2026, 2, 28)));
        Assert.False(calendar.IsWorkingDay(new DateOnly(2026, 10, 7)));
        Assert.True(calendar.IsWorkingDay(new DateOnly(2026, 10, 10)));
        Assert.False(calendar.IsWorkingDay(new DateOnly(2025, 10, 8)));
    }

    [Fact]
    public void Parse_InconsistentFile_ReportsEveryError()
    {
        const string json = """
            {
              "year": 2030, "region": "CN", "source": "",
              "holidays": [ { "name": "x", "from": "2030-05-05", "to": "2030-05-01" }, { "name": "y", "from": "2031-01-01", "to": "2031-01-02" } ],
              "workingDays": [ { "date": "2030-05-06", "note": "a Monday" } ]
            }
            """;
        var ex = Assert.Throws<CalendarDataException>(() => HolidayFile.Parse(json, "test"));
        Assert.Equal(4, ex.Errors.Count); // source, reversed period, outside year, weekday "adjusted" day
    }

    [Fact]
    public void Parse_UnknownMember_Refused()
    {
        const string json = """{ "year": 2030, "region": "CN", "source": "s", "holidays": [], "workingDays": [], "extra": 1 }""";
        Assert.Throws<CalendarDataException>(() => HolidayFile.Parse(json, "test"));
    }

    [Fact]
    public void Load_OverrideFolder_ReplacesAndAddsYears()
    {
        var folder = Directory.CreateTempSubdirectory("govshare-holidays-");
        try
        {
            File.WriteAllText(Path.Combine(folder.FullName, "2027.json"),
                """{ "year": 2027, "region": "CN", "source": "test notice", "holidays": [ { "name": "元旦", "from": "2027-01-01", "to": "2027-01-01" } ], "workingDays": [] }""");
            File.WriteAllText(Path.Combine(folder.FullName, "2026.json"),
                """{ "year": 2026, "region": "CN", "source": "corrected notice", "holidays": [], "workingDays": [] }""");

            var calendar = WorkingDayCalendar.Load(folder.FullName);

            Assert.False(calendar.IsWorkingDay(new DateOnly(2027, 1, 1)));
            Assert.True(calendar.IsWorkingDay(new DateOnly(2026, 1, 2)));  // the override has no holidays
            Assert.Equal("corrected notice", calendar.Files.Single(f => f.Year == 2026).Source);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public void Load_OverrideFileNamedForAnotherYear_Refused()
    {
        var folder = Directory.CreateTempSubdirectory("govshare-holidays-");
        try
        {
            File.WriteAllText(Path.Combine(folder.FullName, "2028.json"),
                """{ "year": 2027, "region": "CN", "source": "s", "holidays": [], "workingDays": [] }""");
            Assert.Throws<CalendarDataException>(() => WorkingDayCalendar.Load(folder.FullName));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }
}
