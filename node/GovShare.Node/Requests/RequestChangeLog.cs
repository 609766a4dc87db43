using System.Text.Json;
using GovShare.Node.Catalog;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Requests;

/// <summary>
/// Puts every share-request, grant and dispute transition into the tamper-evident change log as
/// well as the requests' own change stream.
/// </summary>
public sealed class RequestChangeLog(IRequestChangeSink inner, LogWriter log, TimeProvider time) : IRequestChangeSink
{
    /// <summary>Wraps the registered request change sink; call after the requests and the logs are added.</summary>
    public static void AddTo(IServiceCollection services) =>
        services.Decorate<IRequestChangeSink>((sp, inner) => new RequestChangeLog(inner, sp.GetRequiredService<LogWriter>(), sp.GetRequiredService<TimeProvider>()));

    public RequestChange Append(RequestChange change)
    {
        var stored = inner.Append(change);
        log.AppendAsync(LogKind.Change, new LogRecord
        {
            ExchangeId = ExchangeId.New(time).Value,
            Time = stored.At,
            Caller = stored.By,
            Kind = stored.Subject switch
            {
                RequestSubject.Grant => ExchangeKind.GrantChange,
                RequestSubject.Dispute => ExchangeKind.DisputeChange,
                _ => ExchangeKind.RequestDecision,
            },
            ResourceCode = stored.ResourceCode,
            Entity = $"{stored.Subject.ToString().ToLowerInvariant()}/{stored.SubjectId}",
            Status = 200,
            Diff = JsonSerializer.SerializeToElement(new { from = stored.From, to = stored.To, detail = stored.Detail, requestSequence = stored.Sequence }, CatalogJson.Options),
        }).GetAwaiter().GetResult();
        return stored;
    }

    public IReadOnlyList<RequestChange> Read(long afterSequence, int limit, string? subjectId = null) => inner.Read(afterSequence, limit, subjectId);
}
