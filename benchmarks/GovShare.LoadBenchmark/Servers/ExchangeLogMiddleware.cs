using System.Diagnostics;
using GovShare.Node.Catalog;
using GovShare.Node.Exchange;
using GovShare.Node.Hierarchy;
using GovShare.Node.Identity;
using GovShare.Node.Logs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.LoadBenchmark.Servers;

/// <summary>
/// Appends one exchange-log record per push or pull, awaited (fsync'd, group-committed) before
/// the response completes. The node as merged does not yet append exchange records itself
/// (<c>AddGovShareLogs</c> is not wired into <c>GovShareNode.Build</c>), so the benchmark wires
/// the log the way the design asks for, to measure the cost of "logging on".
/// </summary>
internal sealed class ExchangeLogMiddleware : IStartupFilter
{
    private const string Prefix = "/v1/resources/";

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        var writer = app.ApplicationServices.GetRequiredService<LogWriter>();
        app.Use(async (context, nextMiddleware) =>
        {
            var started = Stopwatch.GetTimestamp();
            await nextMiddleware(context);
            var path = context.Request.Path.Value ?? "";
            if (!path.StartsWith(Prefix, StringComparison.Ordinal) || !path.EndsWith("/data", StringComparison.Ordinal))
            {
                return;
            }

            var id = context.Response.Headers[ExchangeProtocol.ExchangeIdHeader].ToString();
            _ = ResourceCode.TryFromUrl(path[Prefix.Length..^"/data".Length], out var code);
            var caller = CallerIdentity.FromPrincipal(context.User);
            var hop = int.TryParse(context.Request.Headers[HopHeaders.Hop].ToString(), out var h) ? h : 0;
            await writer.AppendAsync(LogKind.Exchange, new LogRecord
            {
                ExchangeId = id.Length > 0 ? id : ExchangeId.New(TimeProvider.System).Value,
                Caller = caller?.Uri ?? "anonymous",
                Kind = HttpMethods.IsPost(context.Request.Method) ? ExchangeKind.Push : ExchangeKind.Pull,
                ResourceCode = code,
                Purpose = context.Request.Headers["GovShare-Purpose"].ToString() is { Length: > 0 } purpose ? purpose : null,
                Status = context.Response.StatusCode,
                Bytes = context.Request.ContentLength ?? 0,
                DurationMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                Hop = hop,
            }, context.RequestAborted);
        });
        next(app);
    };
}
