using System.Diagnostics;
using GovShare.Contract;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Logs;

/// <summary>
/// Writes a query-log record (Art. 28) for every catalog read: who asked, what was asked, the
/// outcome. Writes are not queries: they reach the change log through the catalog's change stream.
/// </summary>
public sealed class QueryLogFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!HttpMethods.IsGet(http.Request.Method))
        {
            return await next(context);
        }

        var started = Stopwatch.GetTimestamp();
        var result = await next(context);
        var parties = LogParties.Of(http);
        var status = result is IStatusCodeHttpResult { StatusCode: { } statusCode } ? statusCode : http.Response.StatusCode;
        var services = http.RequestServices;
        try
        {
            await services.GetRequiredService<LogWriter>().AppendAsync(LogKind.Query, new LogRecord
            {
                ExchangeId = ExchangeId.New(services.GetRequiredService<TimeProvider>()).Value,
                Caller = parties.Caller,
                OnBehalfOf = parties.OnBehalfOf,
                Hop = parties.Hop,
                Kind = ExchangeKind.CatalogQuery,
                ResourceCode = http.Request.RouteValues.TryGetValue("code", out var resource) ? resource?.ToString() : null,
                Entity = http.Request.Path + http.Request.QueryString,
                Status = status,
                ProblemType = result is IValueHttpResult { Value: Microsoft.AspNetCore.Mvc.ProblemDetails problem } ? problem.Type : null,
                DurationMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            }, http.RequestAborted);
        }
        catch (LogUnavailableException ex)
        {
            // A query that cannot be logged is not answered (Art. 28); the answer is not yet written.
            http.Response.Headers.RetryAfter = "5";
            return Problem.Result(StatusCodes.Status503ServiceUnavailable, ProblemTypes.LogUnavailable, "The query log cannot be written", ex.Message);
        }

        return result;
    }
}
