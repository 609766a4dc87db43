namespace GovShare.Node.Calendar;

/// <summary>
/// Working days (工作日) of mainland China: Monday to Friday, minus public holidays, plus
/// adjusted working days (调休), from one <see cref="HolidayFile"/> per year. A date in a
/// year without a file throws <see cref="CalendarYearMissingException"/>: a deadline is never
/// computed from a guess. Immutable and thread-safe.
/// </summary>
public sealed class WorkingDayCalendar
{
    /// <summary>The offset deadlines are reckoned in: China Standard Time, UTC+8, no DST.</summary>
    public static readonly TimeSpan ChinaStandardTime = TimeSpan.FromHours(8);

    private const string ResourcePrefix = "GovShare.Node.Calendar.holidays.";

    private readonly HashSet<int> _years;
    private readonly HashSet<DateOnly> _holidays = [];
    private readonly HashSet<DateOnly> _workingWeekends = [];

    /// <summary>Builds a calendar from year files; two files for one year are an error.</summary>
    public WorkingDayCalendar(IEnumerable<HolidayFile> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var byYear = new Dictionary<int, HolidayFile>();
        foreach (var file in files)
        {
            if (!byYear.TryAdd(file.Year, file))
            {
                throw new CalendarDataException($"{file.Year}", [$"two files for {file.Year}"]);
            }
        }

        Files = byYear.Values.OrderBy(f => f.Year).ToArray();
        _years = [.. byYear.Keys];
        foreach (var file in Files)
        {
            foreach (var h in file.Holidays)
            {
                for (var d = h.From; d <= h.To; d = d.AddDays(1))
                {
                    _holidays.Add(d);
                }
            }

            foreach (var w in file.WorkingDays)
            {
                _workingWeekends.Add(w.Date);
            }
        }
    }

    /// <summary>The year files in use, ascending.</summary>
    public IReadOnlyList<HolidayFile> Files { get; }

    /// <summary>The years covered.</summary>
    public IReadOnlyCollection<int> Years => _years;

    /// <summary>
    /// The files shipped inside the assembly, replaced year by year by any
    /// <c>&lt;year&gt;.json</c> in <paramref name="overrideFolder"/> (a newer notice, or a
    /// year published after the release).
    /// </summary>
    public static WorkingDayCalendar Load(string? overrideFolder = null)
    {
        var files = new Dictionary<int, HolidayFile>();
        var assembly = typeof(WorkingDayCalendar).Assembly;
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            var file = HolidayFile.Parse(reader.ReadToEnd(), name);
            files[file.Year] = file;
        }

        if (!string.IsNullOrEmpty(overrideFolder))
        {
            if (!Directory.Exists(overrideFolder))
            {
                throw new DirectoryNotFoundException($"Calendar:HolidayFolder '{overrideFolder}' does not exist.");
            }

            foreach (var path in Directory.EnumerateFiles(overrideFolder, "*.json"))
            {
                var file = HolidayFile.Parse(File.ReadAllText(path), path);
                if (!string.Equals(Path.GetFileNameWithoutExtension(path), file.Year.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal))
                {
                    throw new CalendarDataException(path, [$"the file name must be {file.Year}.json"]);
                }

                files[file.Year] = file;
            }
        }

        return new WorkingDayCalendar(files.Values);
    }

    /// <summary>True for a working day.</summary>
    /// <exception cref="CalendarYearMissingException">No file for the date's year.</exception>
    public bool IsWorkingDay(DateOnly date)
    {
        if (!_years.Contains(date.Year))
        {
            throw new CalendarYearMissingException(date.Year);
        }

        if (_workingWeekends.Contains(date))
        {
            return true;
        }

        return !HolidayFile.IsWeekend(date) && !_holidays.Contains(date);
    }

    /// <summary>
    /// The <paramref name="workingDays"/>-th working day after <paramref name="date"/> (the
    /// start itself is not counted, whatever it is); before it when negative; the date itself for 0.
    /// "Answer within 10 working days of a request made on T" is <c>AddWorkingDays(T, 10)</c>.
    /// </summary>
    public DateOnly AddWorkingDays(DateOnly date, int workingDays)
    {
        var step = Math.Sign(workingDays);
        var remaining = Math.Abs(workingDays);
        var d = date;
        while (remaining > 0)
        {
            d = d.AddDays(step);
            if (IsWorkingDay(d))
            {
                remaining--;
            }
        }

        return d;
    }

    /// <summary>
    /// As <see cref="AddWorkingDays(DateOnly,int)"/>, but a year without a holiday file counts
    /// weekends only and the result is marked <paramref name="provisional"/>. For deadlines that
    /// must not block the work they time (a catalog change in late November, before the State
    /// Council publishes next year's holidays): the caller stores the flag and shows it.
    /// </summary>
    public DateOnly AddWorkingDays(DateOnly date, int workingDays, out bool provisional)
    {
        provisional = false;
        var step = Math.Sign(workingDays);
        var remaining = Math.Abs(workingDays);
        var d = date;
        while (remaining > 0)
        {
            d = d.AddDays(step);
            bool working;
            if (_years.Contains(d.Year))
            {
                working = IsWorkingDay(d);
            }
            else
            {
                provisional = true;
                working = !HolidayFile.IsWeekend(d);
            }

            if (working)
            {
                remaining--;
            }
        }

        return d;
    }

    /// <summary>
    /// As <see cref="AddWorkingDays(DateOnly,int)"/> on the date of <paramref name="instant"/>
    /// in China Standard Time; the result keeps that offset and the time of day.
    /// </summary>
    public DateTimeOffset AddWorkingDays(DateTimeOffset instant, int workingDays)
    {
        var local = instant.ToOffset(ChinaStandardTime);
        var date = AddWorkingDays(DateOnly.FromDateTime(local.DateTime), workingDays);
        return new DateTimeOffset(date.ToDateTime(TimeOnly.FromDateTime(local.DateTime)), ChinaStandardTime);
    }

    /// <summary>
    /// Working days d with <paramref name="from"/> &lt; d ≤ <paramref name="to"/>; negative when
    /// <paramref name="to"/> is earlier. Inverse of <see cref="AddWorkingDays(DateOnly,int)"/>:
    /// <c>WorkingDaysBetween(a, AddWorkingDays(a, n)) == n</c>.
    /// </summary>
    public int WorkingDaysBetween(DateOnly from, DateOnly to)
    {
        if (to < from)
        {
            return -WorkingDaysBetween(to, from);
        }

        var count = 0;
        for (var d = from.AddDays(1); d <= to; d = d.AddDays(1))
        {
            if (IsWorkingDay(d))
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>As <see cref="WorkingDaysBetween(DateOnly,DateOnly)"/> on dates in China Standard Time.</summary>
    public int WorkingDaysBetween(DateTimeOffset from, DateTimeOffset to) =>
        WorkingDaysBetween(ToChinaDate(from), ToChinaDate(to));

    /// <summary>The calendar date of an instant in China Standard Time.</summary>
    public static DateOnly ToChinaDate(DateTimeOffset instant) =>
        DateOnly.FromDateTime(instant.ToOffset(ChinaStandardTime).DateTime);
}
