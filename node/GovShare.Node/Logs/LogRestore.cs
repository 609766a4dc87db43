using System.Globalization;
using System.Text.Json;

namespace GovShare.Node.Logs;

/// <summary>A log's last record in a backup: its sequence and hash.</summary>
public sealed record LogHead(long Sequence, string Hash);

/// <summary>
/// What <c>govshare node restore</c> leaves in the data folder (<see cref="LogRestore.MarkerFile"/>):
/// when the backup was taken, the change-log sequence of its state, and each log's head.
/// </summary>
public sealed record RestoredFrom(DateTimeOffset BackupTaken, long ChangeSequence, IReadOnlyDictionary<LogKind, LogHead> Heads);

/// <summary>
/// The first start on a restored data folder: once the chains have verified (the writer's recovery),
/// and before the node serves, a signed <see cref="ExchangeKind.Restore"/> record naming the restored
/// head goes into each log, then a checkpoint. A restored node never continues as if nothing was lost:
/// anything the source node logged after the backup is missing here, and the log says so.
/// </summary>
public static class LogRestore
{
    /// <summary>The marker's file name in the data folder; removed once every log holds its restore record.</summary>
    public const string MarkerFile = "restored.json";

    public static void WriteMarker(string dataPath, RestoredFrom restored)
    {
        ArgumentNullException.ThrowIfNull(restored);
        LogStore.ReplaceFile(Path.Combine(dataPath, MarkerFile), JsonSerializer.SerializeToUtf8Bytes(restored, LogJson.Options));
    }

    /// <summary>Appends the restore records when the folder carries the marker; returns what was restored (null when not restored).</summary>
    public static RestoredFrom? MarkIfRestored(string dataPath, LogWriter writer, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var marker = Path.Combine(dataPath, MarkerFile);
        if (!File.Exists(marker))
        {
            return null;
        }

        var restored = JsonSerializer.Deserialize<RestoredFrom>(File.ReadAllBytes(marker), LogJson.Options)
            ?? throw new InvalidDataException($"{marker} is empty.");
        foreach (var log in Enum.GetValues<LogKind>())
        {
            var head = restored.Heads.TryGetValue(log, out var h) ? h : null;
            var record = new LogRecord
            {
                ExchangeId = ExchangeId.New(time).Value,
                Caller = "govshare:node/" + writer.Node,
                Kind = ExchangeKind.Restore,
                Status = 200,
                // The change log wants an entity and a diff; no replayer has this prefix, so the replay skips it.
                Entity = "restore/" + writer.Node,
                Diff = JsonSerializer.SerializeToElement(new { restoredThrough = head?.Sequence ?? 0, hash = head is { Sequence: > 0 } ? head.Hash : null, backupTaken = restored.BackupTaken, changeSequence = restored.ChangeSequence }),
                // Purpose is the record's free-text field: what a reader of the log must know.
                Purpose = string.Create(CultureInfo.InvariantCulture,
                    $"restored from a backup taken {restored.BackupTaken:O} (state at change {restored.ChangeSequence}); this log was restored through record {head?.Sequence ?? 0} ({(head is { Sequence: > 0 } ? head.Hash : "empty")}); records the node wrote after that are not in this log"),
            };
            // Sync over async at start, on the composition root's thread (no synchronisation context).
            writer.AppendAsync(log, record).GetAwaiter().GetResult();
            writer.CheckpointAsync(log).GetAwaiter().GetResult();
        }

        // Only after every record is durable: a crash before this leaves the marker, and the next start writes the records again (a second notice, never none).
        File.Delete(marker);
        return restored;
    }
}
