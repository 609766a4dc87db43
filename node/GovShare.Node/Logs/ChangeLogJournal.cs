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
        // The caller is inside its state transaction and must not acknowledge before the record is on disk.
        return log.AppendAsync(LogKind.Change, new LogRecord
        {
            ExchangeId = ExchangeId.New(time).Value,
            Time = change.At,
            Caller = change.By,
            Kind = JsonSerializer.Deserialize<ExchangeKind>(JsonSerializer.Serialize(change.Kind)),
            Entity = change.Entity,
            Status = 200,
            Diff = change.Diff,
        }).GetAwaiter().GetResult();
    }
}
