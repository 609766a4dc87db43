using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Calendar;

/// <summary>Settings of the working-day calendar, section <c>Calendar</c>.</summary>
public sealed class CalendarOptions
{
    public const string Section = "Calendar";

    /// <summary>Optional folder of <c>&lt;year&gt;.json</c> files that replace the shipped ones year by year.</summary>
    public string? HolidayFolder { get; set; }
}

/// <summary>Wires the working-day calendar.</summary>
public static class CalendarServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="WorkingDayCalendar"/> as a singleton loaded once from the shipped
    /// files and <see cref="CalendarOptions.HolidayFolder"/>; a bad file fails the first resolve.
    /// </summary>
    public static IServiceCollection AddGovShareCalendar(this IServiceCollection services, IConfiguration? configuration = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<CalendarOptions>();
        if (configuration is not null)
        {
            options.Bind(configuration.GetSection(CalendarOptions.Section));
        }

        services.TryAddSingleton(sp =>
        {
            var folder = sp.GetRequiredService<IOptions<CalendarOptions>>().Value.HolidayFolder;
            var calendar = WorkingDayCalendar.Load(folder);
            var logger = sp.GetService<ILoggerFactory>()?.CreateLogger(typeof(WorkingDayCalendar).FullName!);
            if (logger is not null)
            {
                var years = string.Join(",", calendar.Years.Order());
                CalendarLog.Loaded(logger, years, folder ?? "(shipped files only)");
            }

            return calendar;
        });
        return services;
    }
}

internal static partial class CalendarLog
{
    [LoggerMessage(EventId = 3900, EventName = "CalendarLoaded", Level = LogLevel.Information,
        Message = "Working-day calendar loaded for years {Years} (override folder: {Folder})")]
    public static partial void Loaded(ILogger logger, string years, string folder);
}
