using System.Text.Json;
using GovShare.Node.Kernel;

namespace GovShare.Node.Logs;

/// <summary>
/// The change log as the state's journal (<see cref="IStateJournal"/>): a state change becomes a
/// change-log record and the caller gets its sequence once the record is fsync'd.
/// </summary>
public sealed class ChangeLogJournal(LogWriter log, TimeProvider time) : IStateJournal
{
    public long Append(StateChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        return Append(JsonSerializer.Deserialize<ExchangeKind>(JsonSerializer.Serialize(change.Kind)), change.Entity, change.By, change.At, change.Diff);
    }

    /// <summary>
    /// Appends one change-log record and returns its sequence once it is fsync'd. The one place a
    /// state change becomes a record: the registry and links (through <see cref="IStateJournal"/>),
    /// the catalog and the requests (their change-log decorators) all write through it.
    /// </summary>
    public long Append(ExchangeKind kind, string entity, string by, DateTimeOffset at, JsonElement diff, string? resourceCode = null) =>
        // The caller is inside its state transaction and must not acknowledge before the record is on disk.
        log.AppendAsync(LogKind.Change, new LogRecord
        {
            ExchangeId = ExchangeId.New(time).Value,
            Time = at,
            Caller = by,
            Kind = kind,
            ResourceCode = resourceCode,
            Entity = entity,
            Status = 200,
            Diff = diff,
        }).GetAwaiter().GetResult();
}
