using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace GovShare.Node.Calendar;

/// <summary>
/// One year's official holiday arrangement, as stored in <c>holidays/&lt;year&gt;.json</c>
/// (format in <c>Calendar/README.md</c>).
/// </summary>
public sealed record HolidayFile(
    int Year,
    string Region,
    string Source,
    string? SourceUrl,
    IReadOnlyList<HolidayPeriod> Holidays,
    IReadOnlyList<AdjustedWorkingDay> WorkingDays)
{
    internal static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>Parses and checks a file; every problem of the file is reported in one exception.</summary>
    /// <exception cref="CalendarDataException">The file is malformed or inconsistent.</exception>
    public static HolidayFile Parse(string json, string origin)
    {
        HolidayFile? file;
        try
        {
            file = JsonSerializer.Deserialize<HolidayFile>(json, JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new CalendarDataException(origin, [ex.Message]);
        }

        if (file is null)
        {
            throw new CalendarDataException(origin, ["the file is empty"]);
        }

        var errors = file.Check();
        return errors.Count == 0 ? file : throw new CalendarDataException(origin, errors);
    }

    /// <summary>
    /// Every inconsistency: dates outside the year (a notice may start a holiday in the last
    /// days of the year before, so the previous December is allowed), reversed periods, a
    /// day both holiday and working day, and an "adjusted working day" that is not a weekend.
    /// </summary>
    public IReadOnlyList<string> Check()
    {
        var errors = new List<string>();
        if (Year is < 2000 or > 2100)
        {
            errors.Add($"year {Year} is out of range");
        }

        if (string.IsNullOrWhiteSpace(Source))
        {
            errors.Add("source is required: name the notice the dates come from");
        }

        if (Holidays is null)
        {
            errors.Add("holidays is required (an empty list when there are none)");
        }

        if (WorkingDays is null)
        {
            errors.Add("workingDays is required (an empty list when there are none)");
        }

        var first = new DateOnly(Math.Clamp(Year, 2000, 2100) - 1, 12, 1);
        var last = new DateOnly(Math.Clamp(Year, 2000, 2100), 12, 31);
        var holidayDays = new HashSet<DateOnly>();
        for (var i = 0; i < (Holidays?.Count ?? 0); i++)
        {
            var h = Holidays![i];
            if (h.To < h.From)
            {
                errors.Add($"holidays[{i}] ends before it starts");
            }

            if (h.From < first || h.To > last)
            {
                errors.Add($"holidays[{i}] lies outside {Year}");
            }

            for (var d = h.From; d <= h.To && d <= last; d = d.AddDays(1))
            {
                holidayDays.Add(d);
            }
        }

        for (var i = 0; i < (WorkingDays?.Count ?? 0); i++)
        {
            var w = WorkingDays![i];
            if (w.Date < first || w.Date > last)
            {
                errors.Add($"workingDays[{i}] lies outside {Year}");
            }

            if (!IsWeekend(w.Date))
            {
                errors.Add($"workingDays[{i}] {w.Date.ToString("O", CultureInfo.InvariantCulture)} is a weekday already; an adjusted working day is a Saturday or Sunday");
            }

            if (holidayDays.Contains(w.Date))
            {
                errors.Add($"workingDays[{i}] {w.Date.ToString("O", CultureInfo.InvariantCulture)} is also a holiday");
            }
        }

        return errors;
    }

    internal static bool IsWeekend(DateOnly d) => d.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday;
}

/// <summary>A run of public holiday days (放假), both ends included.</summary>
public sealed record HolidayPeriod(string Name, DateOnly From, DateOnly To);

/// <summary>A weekend day that is worked to make up for a holiday (调休上班).</summary>
public sealed record AdjustedWorkingDay(DateOnly Date, string? Note);

/// <summary>A holiday data file is malformed or inconsistent; the node refuses to guess.</summary>
public sealed class CalendarDataException(string origin, IReadOnlyList<string> errors)
    : Exception($"Holiday calendar '{origin}' is invalid: {string.Join("; ", errors)}")
{
    public IReadOnlyList<string> Errors { get; } = errors;
}

/// <summary>A date falls in a year the calendar has no holiday file for.</summary>
public sealed class CalendarYearMissingException(int year)
    : Exception($"The working-day calendar has no holiday file for {year}; add holidays/{year}.json (Calendar:HolidayFolder) from the State Council's notice.")
{
    public int Year { get; } = year;
}
