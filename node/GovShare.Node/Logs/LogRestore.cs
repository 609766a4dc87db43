using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;

namespace GovShare.Node.Logs;

/// <summary>A log's last record in a backup: its sequence and hash.</summary>
public sealed record LogHead(long Sequence, string Hash);

/// <summary>
/// What <c>govshare node restore</c> leaves in the data folder (<see cref="LogRestore.MarkerFile"/>):
/// when the backup was taken, the change-log sequence of its state, and each log's head.
/// </summary>
public sealed record RestoredFrom(DateTimeOffset BackupTaken, long ChangeSequence, IReadOnlyDictionary<LogKind, LogHead> Heads)
{
    /// <summary>The key id (SHA-256 of the public key) that signed the backup's manifest; the first start refuses one that is not the node's.</summary>
    public string? SignedBy { get; init; }
}

/// <summary>
/// One log after the first start on a restored folder: the head it was restored to, the records taken
/// back from Kafka after it (<see cref="Refetched"/>), and the sequence of the restore record.
/// </summary>
public sealed record RestoredLog(LogKind Log, LogHead Restored, long Refetched, long RestoreRecord);

/// <summary>
/// A restored node does not start: Kafka's copy of one of its logs cannot be taken back (it does not
/// continue the restored chain, or could not be read). Nothing was appended to any log; the marker stays,
/// so the next start tries again.
/// </summary>
public sealed class LogRestoreRefusedException(LogKind? log, string message) : Exception(message)
{
    /// <summary>The log whose Kafka copy was refused; null when the backup itself was (not signed with the node's key).</summary>
    public LogKind? Log { get; } = log;
}

/// <summary>
/// The first start on a restored data folder, after the writer's recovery has verified every chain and
/// before the change-log replay and before the node serves. A node restored to an earlier point must never
/// write over its own history: the sequences after the backup's head may already be in Kafka with other
/// content. So, when Kafka is configured, each log first takes back what the node shipped after its head:
/// the topic is read, its records for this node verified to continue the restored chain (hash links, and
/// checkpoint signatures with the node's key, <see cref="LogVerifier.VerifyCopy"/>), and appended byte for
/// byte. Only then does a signed <see cref="ExchangeKind.Restore"/> record name what is still missing — the
/// records the source wrote and never shipped — followed by a checkpoint. A Kafka copy that does not
/// continue the chain (or cannot be read) stops the start with nothing appended
/// (<see cref="LogRestoreRefusedException"/>). Without Kafka the restore record follows the head directly;
/// nothing outside the node holds a later record then.
/// </summary>
public static class LogRestore
{
    /// <summary>The marker's file name in the data folder; removed once every log holds its restore record.</summary>
    public const string MarkerFile = "restored.json";

    /// <summary>How long reading one log's topic may take at the restored node's first start.</summary>
    public static readonly TimeSpan KafkaReadTimeout = TimeSpan.FromMinutes(2);

    private const int CopyBatch = 1000;

    public static void WriteMarker(string dataPath, RestoredFrom restored)
    {
        ArgumentNullException.ThrowIfNull(restored);
        LogStore.ReplaceFile(Path.Combine(dataPath, MarkerFile), JsonSerializer.SerializeToUtf8Bytes(restored, LogJson.Options));
    }

    /// <summary>
    /// Takes back from Kafka (when <paramref name="kafka"/> is enabled) and appends the restore records when the
    /// folder carries the marker; returns what was restored (null when not restored). <paramref name="nodeKey"/>
    /// (the node's public key) verifies the checkpoints in Kafka's copy.
    /// </summary>
    /// <exception cref="LogRestoreRefusedException">Kafka's copy of a log does not continue the restored chain, or could not be read.</exception>
    public static (RestoredFrom From, IReadOnlyList<RestoredLog> Logs)? MarkIfRestored(string dataPath, LogWriter writer, TimeProvider time, KafkaOptions? kafka = null, ECDsa? nodeKey = null)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var marker = Path.Combine(dataPath, MarkerFile);
        if (!File.Exists(marker))
        {
            return null;
        }

        var restored = JsonSerializer.Deserialize<RestoredFrom>(File.ReadAllBytes(marker), LogJson.Options)
            ?? throw new InvalidDataException($"{marker} is empty.");
        // The certificate that counts is the node's own: a backup signed with another key is not this node's history.
        if (restored.SignedBy is { } signer && nodeKey is not null && signer != LogCheckpoint.KeyId(nodeKey))
        {
            throw new LogRestoreRefusedException(null, $"The data folder was restored from a backup whose manifest was signed with key {signer}, not with this node's key ({LogCheckpoint.KeyId(nodeKey)}, Node:Certificate): it is another node's backup, or was rewritten. Nothing was appended. Start it with the certificate the backup was taken with.");
        }

        var logs = Enum.GetValues<LogKind>();

        // Every log's Kafka copy is read and verified before anything is appended to any of them.
        var taken = new Dictionary<LogKind, IReadOnlyList<LogEntry>>();
        foreach (var log in logs)
        {
            taken[log] = kafka is { Enabled: true } ? TakeBack(writer, log, kafka, nodeKey) : [];
        }

        var results = new List<RestoredLog>();
        foreach (var log in logs)
        {
            var head = restored.Heads.TryGetValue(log, out var h) ? h : new LogHead(0, "");
            var copied = taken[log];
            var before = writer.DurableSequence(log);
            for (var i = 0; i < copied.Count; i += CopyBatch)
            {
                // Sync over async at start, on the composition root's thread (no synchronisation context).
                writer.AppendCopiedAsync(log, copied.Skip(i).Take(CopyBatch).ToList()).GetAwaiter().GetResult();
            }

            if (copied.Count > 0)
            {
                // Kafka holds them already: the relay starts after them instead of sending them again.
                var last = copied[^1];
                LogStore.ReplaceFile(Path.Combine(writer.Store.FolderOf(log), LogStore.WatermarkFile), Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{last.Sequence} {last.Hash}\n")));
            }

            var through = writer.DurableSequence(log);
            var throughHash = through == 0 ? null : writer.Store.ReadEntries(log, through, through).Last().Hash;
            var signedThrough = copied.LastOrDefault(e => e.Type == LogEntryType.Checkpoint)?.Sequence;
            var record = new LogRecord
            {
                ExchangeId = ExchangeId.New(time).Value,
                Caller = "govshare:node/" + writer.Node,
                Kind = ExchangeKind.Restore,
                Status = 200,
                // The change log wants an entity and a diff; no replayer has this prefix, so the replay skips it.
                Entity = "restore/" + writer.Node,
                Diff = JsonSerializer.SerializeToElement(new
                {
                    restoredThrough = head.Sequence,
                    hash = head.Sequence > 0 ? head.Hash : null,
                    refetchedFromKafka = copied.Count,
                    continuesAfter = through,
                    continuesAfterHash = throughHash,
                    kafka = kafka is { Enabled: true } ? KafkaOptions.Topic(writer.Node, log) : null,
                    backupTaken = restored.BackupTaken,
                    changeSequence = restored.ChangeSequence,
                }),
                // Purpose is the record's free-text field: what a reader of the log must know.
                Purpose = Purpose(restored, head, before, copied.Count, through, throughHash, signedThrough, kafka is { Enabled: true } ? KafkaOptions.Topic(writer.Node, log) : null),
            };
            var sequence = writer.AppendAsync(log, record).GetAwaiter().GetResult();
            writer.CheckpointAsync(log).GetAwaiter().GetResult();
            results.Add(new RestoredLog(log, head, copied.Count, sequence));
        }

        // Only after every record is durable: a crash before this leaves the marker, and the next start takes back
        // from Kafka after what is now the head and writes the records again (a second notice, never none).
        File.Delete(marker);
        return (restored, results);
    }

    private static string Purpose(RestoredFrom restored, LogHead head, long before, int refetched, long through, string? throughHash, long? signedThrough, string? topic)
    {
        var text = string.Create(CultureInfo.InvariantCulture,
            $"restored from a backup taken {restored.BackupTaken:O} (state at change {restored.ChangeSequence}); this log was restored through record {head.Sequence} ({(head.Sequence > 0 ? head.Hash : "empty")}); ");
        if (topic is null)
        {
            return text + "Kafka is not configured, so nothing after that was taken back: records the node wrote after that are not in this log";
        }

        var signing = signedThrough == through ? "" : signedThrough is { } s
            ? string.Create(CultureInfo.InvariantCulture, $" (signed by the node's checkpoints through {s}; {s + 1} to {through} by hash chain only)")
            : " (by hash chain only: no checkpoint among them)";
        var takenBack = refetched == 0
            ? $"Kafka ({topic}) holds nothing after it; "
            : string.Create(CultureInfo.InvariantCulture, $"records {before + 1} to {through} were taken back from Kafka ({topic}) and verified to continue it{signing}; ");
        return text + takenBack + string.Create(CultureInfo.InvariantCulture, $"records the node wrote after record {through} ({throughHash ?? "empty"}) and did not ship are not in this log");
    }

    /// <summary>
    /// The records of this node's topic after the log's head, verified to continue it; refused when Kafka
    /// holds something else there (a fork), skips a record (retention, deletion), or cannot be read.
    /// </summary>
    private static List<LogEntry> TakeBack(LogWriter writer, LogKind log, KafkaOptions kafka, ECDsa? nodeKey)
    {
        var topic = KafkaOptions.Topic(writer.Node, log);
        var headSequence = writer.DurableSequence(log);
        var name = LogEntry.LogName(log);
        KafkaLogCopy copy;
        try
        {
            copy = KafkaLogReader.ReadTopic(kafka.BootstrapServers!, topic, KafkaReadTimeout, kafka.Producer);
        }
        catch (KafkaException ex) when (ex.Error.Code == ErrorCode.UnknownTopicOrPart)
        {
            // The node never shipped this log.
            return [];
        }
        catch (Exception ex) when (ex is KafkaException or TimeoutException)
        {
            throw new LogRestoreRefusedException(log, $"The restored {name} log cannot be reconciled with Kafka: {topic} could not be read ({ex.Message}). Nothing was appended. Start again when Kafka is reachable; to start without what Kafka holds, remove the Kafka settings for this start (the restore record then says nothing was taken back, and sequences after {headSequence} may differ from Kafka's).");
        }

        if (copy.Unreadable.Count > 0)
        {
            var first = copy.Unreadable[0];
            throw new LogRestoreRefusedException(log, string.Create(CultureInfo.InvariantCulture, $"The restored {name} log cannot be reconciled with Kafka: {topic} partition {first.Partition} offset {first.Offset} is not a log entry, so what Kafka holds after record {headSequence} is unknown. Nothing was appended."));
        }

        // A topic holds every chain of the node (one per replica); only this writer's chain continues the restored one.
        var chain = copy.Entries.Where(e => e.Replica == writer.Replica).ToList();

        // The restored head leads the list: Kafka's copy must hold the same record there (or none), and its next record must link to it.
        var head = headSequence == 0 ? null : writer.Store.ReadEntries(log, headSequence, headSequence).Last();
        var offered = head is null ? chain : [head, .. chain];
        var verification = LogVerifier.VerifyCopy(offered, log, writer.Node, nodeKey, fromSeq: headSequence + 1);
        if (!verification.Ok)
        {
            throw new LogRestoreRefusedException(log, string.Create(CultureInfo.InvariantCulture, $"The restored {name} log does not continue into its Kafka copy ({topic}) after record {headSequence}: {verification.Message} Nothing was appended: a record that does not continue the restored chain is never taken back, and no restore record is written over a sequence Kafka holds."));
        }

        var dedup = new LogDeduplicator();
        var after = new List<LogEntry>();
        foreach (var entry in chain)
        {
            if (dedup.Add(entry) == DeduplicationOutcome.New && entry.Sequence > headSequence)
            {
                // Stored exactly as the writer writes it: an envelope field outside the hash cannot ride along.
                if (!entry.Line.Span.SequenceEqual(LogEntry.Create(entry.Log, entry.Node, entry.Sequence, entry.Type, entry.PreviousHash, entry.RecordJson, entry.Replica).Line.Span))
                {
                    throw new LogRestoreRefusedException(log, string.Create(CultureInfo.InvariantCulture, $"The restored {name} log cannot take back record {entry.Sequence} from {topic}: its line is not in the form the node writes. Nothing was appended."));
                }

                after.Add(entry);
            }
        }

        after.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        return after;
    }
}
