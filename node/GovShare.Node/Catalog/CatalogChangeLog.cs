using System.Text.Json;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Catalog;

/// <summary>
/// Puts every catalog change into the tamper-evident change log as well as the catalog's own
/// change stream: the stream answers "what changed in this entry", the log proves it.
/// </summary>
public sealed class CatalogChangeLog(ICatalogChangeSink inner, LogWriter log, TimeProvider time) : ICatalogChangeSink
{
    /// <summary>Wraps the registered catalog change sink; call after the catalog and the logs are added.</summary>
    public static void AddTo(IServiceCollection services) =>
        services.Decorate<ICatalogChangeSink>((sp, inner) => new CatalogChangeLog(inner, sp.GetRequiredService<LogWriter>(), sp.GetRequiredService<TimeProvider>()));

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
