using System.Diagnostics;
using GovShare.Node.Logs;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Exchange;

/// <summary>
/// One push or pull as the exchange log will record it. Every outcome, success or refusal, ends
/// in exactly one record (Art. 28); a success is acknowledged only after its record is durable.
/// </summary>
internal sealed class ExchangeStep(HttpContext context, LogWriter log, ExchangeKind kind, ExchangeId exchangeId)
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private bool _recorded;

    /// <summary>The step's trace span (null unless a tracer listens: OTLP off costs nothing).</summary>
    private readonly Activity? _activity = StartActivity(kind, exchangeId);

    public ExchangeId ExchangeId { get; } = exchangeId;
    public string? ResourceCode { get; set; }
    public string? Provider { get; set; }
    public IReadOnlyList<string> Items { get; set; } = [];
    public string? Purpose { get; set; }
    public string? GrantId { get; set; }
    public string? Recipient { get; set; }
    public long Rows { get; set; }
    public long Bytes { get; set; }
    public string? Mode { get; set; }

    /// <summary>What else the record carries (a push's stated source-change time, Art. 16).</summary>
    public System.Text.Json.JsonElement? Diff { get; set; }

    public static ExchangeStep Start(HttpContext context, ExchangeKind kind, ExchangeId exchangeId) =>
        Start(context, context.RequestServices.GetRequiredService<LogWriter>(), kind, exchangeId);

    /// <summary>
    /// The step of the current request, if it is an exchange (a refusal records it). A request feature, as
    /// its <see cref="ExchangeId"/> is, not an entry of <c>HttpContext.Items</c>: the server's feature
    /// collection is reused by a connection's requests (and cleared), where Items is a dictionary per request.
    /// </summary>
    public static ExchangeStep? Of(HttpContext context) => context.Features.Get<ExchangeStep>();

    /// <summary>As <see cref="Start(HttpContext, ExchangeKind, ExchangeId)"/>, with the log writer the endpoint was given.</summary>
    public static ExchangeStep Start(HttpContext context, LogWriter log, ExchangeKind kind, ExchangeId exchangeId)
    {
        var step = new ExchangeStep(context, log, kind, exchangeId);
        context.Features.Set(step);
        return step;
    }

    /// <summary>Writes the record and waits until it is on disk.</summary>
    /// <remarks>
    /// Not an async method: the append's task is the step's (its only await was the last statement), so a
    /// pull pays for no state machine here nor a frame resumed when the record is durable. Every caller
    /// awaits the call at once, so an append refused at once (the log unavailable) throws where it did.
    /// </remarks>
    public Task RecordAsync(int status, string? problemType = null)
    {
        if (_recorded)
        {
            return Task.CompletedTask;
        }

        _recorded = true;
        var elapsed = Stopwatch.GetElapsedTime(_started);
        ExchangeMetrics.Record(kind, status, Rows, Bytes, elapsed);
        if (_activity is not null)
        {
            _activity.SetTag("http.response.status_code", status);
            _activity.SetTag("govshare.exchange.rows", Rows);
            _activity.SetTag("govshare.exchange.bytes", Bytes);
            if (problemType is not null)
            {
                _activity.SetTag("govshare.problem.type", problemType);
                _activity.SetStatus(ActivityStatusCode.Error, problemType);
            }

            _activity.Dispose();
        }

        var parties = LogParties.Of(context);
        return log.AppendAsync(LogKind.Exchange, new LogRecord
        {
            ExchangeId = ExchangeId.Value,

            // The writer's clock, as the writer would fill it: set here, the record is not copied to set it.
            Time = log.Clock.GetUtcNow(),
            Caller = parties.Caller,
            OnBehalfOf = parties.OnBehalfOf,
            Hop = parties.Hop,
            Kind = kind,
            ResourceCode = ResourceCode,
            Provider = Provider,
            Items = Items,
            Purpose = Purpose,
            GrantId = GrantId,
            Recipient = Recipient,
            Rows = Rows,
            Bytes = Bytes,
            Mode = Mode,
            Diff = Diff,
            Status = status,
            ProblemType = problemType,
            DurationMs = (long)elapsed.TotalMilliseconds,
        }, CancellationToken.None);
    }

    private static Activity? StartActivity(ExchangeKind kind, ExchangeId exchangeId)
    {
        if (!ExchangeMetrics.Source.HasListeners())
        {
            return null;
        }

        var activity = ExchangeMetrics.Source.StartActivity("govshare.exchange " + kind.ToString().ToLowerInvariant());
        activity?.SetTag("govshare.exchange.id", exchangeId.Value);
        activity?.SetTag("govshare.exchange.kind", kind.ToString().ToLowerInvariant());
        return activity;
    }
}
