using System.Text.Json;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Catalog;

/// <summary>
/// Puts every catalog change into the tamper-evident change log as well as the catalog's own
/// change stream: the stream answers "what changed in this entry", the log proves it.
/// </summary>
/// <remarks>
/// The change log is also the write-ahead log of the catalog: the record carries the entry as
/// stored (<c>entry</c>) and its sequence becomes the state's watermark in the catalog's
/// transaction, so <see cref="CatalogReplayer"/> can redo a change the database lost.
/// </remarks>
public sealed class CatalogChangeLog(ICatalogChangeSink inner, ChangeLogJournal journal, NodeDataFolder data) : ICatalogChangeSink
{
    /// <summary>Wraps the registered catalog change sink; call after the catalog and the logs are added.</summary>
    public static void AddTo(IServiceCollection services) =>
        services.Decorate<ICatalogChangeSink>((sp, inner) => new CatalogChangeLog(inner, sp.GetRequiredService<ChangeLogJournal>(), sp.GetRequiredService<NodeDataFolder>()));

    public CatalogChange Append(CatalogChange change)
    {
        var stored = inner.Append(change);
        // The catalog's write waits for the durable record: a change is not acknowledged unlogged.
        var sequence = journal.Append(ExchangeKind.CatalogChange, $"catalog/{stored.ResourceCode}", stored.By, stored.At,
            JsonSerializer.SerializeToElement(new { kind = stored.Kind, version = stored.Version, catalogSequence = stored.Sequence, fields = stored.Fields, items = stored.Items, entry = stored.Entry }, CatalogJson.Options),
            stored.ResourceCode);
        data.State.MarkApplied(sequence);
        return stored;
    }

    public IReadOnlyList<CatalogChange> Read(long afterSequence, int limit, string? resourceCode = null) => inner.Read(afterSequence, limit, resourceCode);
}

/// <summary>
/// Redoes logged catalog changes (the catalog's part of the change-log replay): the entry's
/// after-image is stored as it was, and the change goes back into the catalog's change stream
/// under its own sequence.
/// </summary>
public sealed class CatalogReplayer(CatalogStore catalog, NodeDataFolder data) : IStateReplayer
{
    private readonly StateCatalogChangeSink _stream = new(data);

    public string EntityPrefix => "catalog/";

    public bool Replay(StateRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var diff = record.Diff.Deserialize<LoggedChange>(CatalogJson.Options);
        if (diff?.Entry is null)
        {
            return false;
        }

        catalog.Write(diff.Entry);
        _stream.Restore(new CatalogChange(diff.CatalogSequence, diff.Entry.ResourceCode, diff.Kind, diff.Version, record.By, record.At, diff.Fields ?? [], diff.Items ?? []));
        return true;
    }

    private sealed record LoggedChange(ChangeKind Kind, long Version, long CatalogSequence, IReadOnlyList<FieldChange>? Fields, IReadOnlyList<ItemChange>? Items, CatalogEntry? Entry);
}
