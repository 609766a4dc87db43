using System.Text.Json;
using GovShare.Node.Catalog;
using GovShare.Node.Exchange;

namespace GovShare.Node.Logs;

/// <summary>
/// Puts every catalog change into the tamper-evident change log as well as the catalog's own
/// change stream: the stream answers "what changed in this entry", the log proves it.
/// </summary>
public sealed class ChangeLogSink(ICatalogChangeSink inner, LogWriter log, TimeProvider time) : ICatalogChangeSink
{
    public CatalogChange Append(CatalogChange change)
    {
        var stored = inner.Append(change);
        // The catalog's write waits for the durable record: a change is not acknowledged unlogged.
        log.AppendAsync(LogKind.Change, new LogRecord
        {
            ExchangeId = ExchangeId.New(time).Value,
            Time = stored.At,
            Caller = stored.By,
            Kind = ExchangeKind.CatalogChange,
            ResourceCode = stored.ResourceCode,
            Entity = $"catalog/{stored.ResourceCode}",
            Status = 200,
            Diff = JsonSerializer.SerializeToElement(new { kind = stored.Kind, version = stored.Version, catalogSequence = stored.Sequence, fields = stored.Fields, items = stored.Items }, CatalogJson.Options),
        }).GetAwaiter().GetResult();
        return stored;
    }

    public IReadOnlyList<CatalogChange> Read(long afterSequence, int limit, string? resourceCode = null) => inner.Read(afterSequence, limit, resourceCode);
}

/// <summary>
/// Puts every share-request, grant and dispute transition into the tamper-evident change log as
/// well as the requests' own change stream.
/// </summary>
public sealed class RequestChangeLogSink(Requests.IRequestChangeSink inner, LogWriter log, TimeProvider time) : Requests.IRequestChangeSink
{
    public Requests.RequestChange Append(Requests.RequestChange change)
    {
        var stored = inner.Append(change);
        log.AppendAsync(LogKind.Change, new LogRecord
        {
            ExchangeId = ExchangeId.New(time).Value,
            Time = stored.At,
            Caller = stored.By,
            Kind = stored.Subject switch
            {
                Requests.RequestSubject.Grant => ExchangeKind.GrantChange,
                Requests.RequestSubject.Dispute => ExchangeKind.DisputeChange,
                _ => ExchangeKind.RequestDecision,
            },
            ResourceCode = stored.ResourceCode,
            Entity = $"{stored.Subject.ToString().ToLowerInvariant()}/{stored.SubjectId}",
            Status = 200,
            Diff = JsonSerializer.SerializeToElement(new { from = stored.From, to = stored.To, detail = stored.Detail, requestSequence = stored.Sequence }, CatalogJson.Options),
        }).GetAwaiter().GetResult();
        return stored;
    }

    public IReadOnlyList<Requests.RequestChange> Read(long afterSequence, int limit, string? subjectId = null) => inner.Read(afterSequence, limit, subjectId);
}
