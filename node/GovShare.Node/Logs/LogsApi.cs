using System.Globalization;
using GovShare.Contract;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace GovShare.Node.Logs;

/// <summary>Response of <c>GET /v1/stats</c>.</summary>
public sealed record StatisticsResponse(string Node, StatisticsDimension Dimension, StatisticsPeriod Period, DateOnly? From, DateOnly? To, IReadOnlyList<ServiceStatistic> Rows);

/// <summary>The logs' HTTP surface: the service statistics of Art. 28.</summary>
public static class LogsApi
{
    /// <summary>
    /// <c>GET /v1/stats?dimension=resource|department&amp;period=day|month&amp;from=yyyy-MM-dd&amp;to=yyyy-MM-dd</c>,
    /// computed from the exchange log (incrementally, see <see cref="ExchangeStatistics"/>). Bad parameters are all reported in one problem+json.
    /// </summary>
    public static IEndpointRouteBuilder MapLogsApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/v1/stats", (HttpRequest request, LogWriter writer, ExchangeStatistics statistics) =>
        {
            var query = request.Query;
            var errors = new List<string>();
            var dimension = Parse(query["dimension"], StatisticsDimension.Resource, "dimension", "resource, department", errors);
            var period = Parse(query["period"], StatisticsPeriod.Day, "period", "day, month", errors);
            var from = ParseDate(query["from"], "from", errors);
            var to = ParseDate(query["to"], "to", errors);
            if (from is { } f && to is { } t && t < f)
            {
                errors.Add("to must not be before from.");
            }

            if (errors.Count > 0)
            {
                return Problem.Result(StatusCodes.Status400BadRequest, ProblemTypes.ValidationFailed, "Invalid statistics query.",
                    string.Join(" ", errors), new Dictionary<string, object?> { ["errors"] = errors });
            }

            // Running totals tailing the exchange log (ExchangeStatistics), not a scan of all of it per request.
            var rows = statistics.Query(dimension, period, from, to);
            return TypedResults.Ok(new StatisticsResponse(writer.Node, dimension, period, from, to, rows));
        });
        return endpoints;
    }

    /// <summary>
    /// A request that needs the log aggregates while the warm-up's first fold runs
    /// (<see cref="FirstFold"/>) — <c>/v1/stats</c>, scorecards, reports, a violation scan — gets 503
    /// <c>aggregates-rebuilding</c> with Retry-After instead of waiting minutes on the aggregates' lock.
    /// An exception handler of the node's one exception-handling middleware, not a middleware of its
    /// own: every request (a one-row pull too) then pays one awaiting frame fewer for a refusal only
    /// these endpoints can raise. A handled refusal is not logged as an error (.NET 10 suppresses the
    /// middleware's diagnostics when a handler handles the exception); one that finds the answer
    /// already started is not handled here and goes on as any failure does.
    /// </summary>
    internal sealed class AggregatesNotReadyHandler : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
        {
            if (exception is not AggregatesNotReadyException e || context.Response.HasStarted)
            {
                return false;
            }

            context.Response.Headers.RetryAfter = ((int)AggregatesNotReadyException.RetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
            await Problem.ExecuteAsync(context, StatusCodes.Status503ServiceUnavailable, ProblemTypes.AggregatesRebuilding,
                "Figures are being brought up to date.", e.Message).ConfigureAwait(false);
            return true;
        }
    }

    private static T Parse<T>(string? value, T fallback, string name, string allowed, List<string> errors)
        where T : struct, Enum
    {
        if (string.IsNullOrEmpty(value))
        {
            return fallback;
        }

        if (Enum.TryParse<T>(value, ignoreCase: true, out var parsed) && !int.TryParse(value, out _))
        {
            return parsed;
        }

        errors.Add($"{name} must be one of: {allowed}.");
        return fallback;
    }

    private static DateOnly? ParseDate(string? value, string name, List<string> errors)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        if (DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            return date;
        }

        errors.Add($"{name} must be a date as yyyy-MM-dd.");
        return null;
    }
}
