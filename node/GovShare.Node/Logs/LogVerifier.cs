using System.Globalization;
using System.Security.Cryptography;

namespace GovShare.Node.Logs;

/// <summary>What is wrong with the first bad record a verification found.</summary>
public enum LogFault
{
    None,

    /// <summary>The record's bytes do not match its hash: edited.</summary>
    Edited,

    /// <summary>A sequence number is absent: deleted (or not yet shipped, for a Kafka copy).</summary>
    Missing,

    /// <summary>Records are out of order: moved or swapped.</summary>
    Reordered,

    /// <summary>A record's previous-hash does not name the record before it: the chain was rewritten.</summary>
    BrokenLink,

    /// <summary>A line is not a log entry at all.</summary>
    Unreadable,

    /// <summary>A checkpoint's signature does not verify, or it signs something else than the record before it.</summary>
    BadCheckpoint,

    /// <summary>Two copies of one (node, log, sequence) differ.</summary>
    ConflictingDuplicate,

    /// <summary>A record of another node, log or replica is in this one.</summary>
    Foreign,

    /// <summary>An archive file or its index line does not match the archive index chain.</summary>
    ArchiveDamaged,
}

/// <summary>The outcome of a verification; <see cref="Sequence"/> names the first bad record.</summary>
public sealed record LogVerification(LogFault Fault, long? Sequence, string Message, long RecordsChecked, int CheckpointsChecked, bool SignaturesChecked)
{
    public bool Ok => Fault == LogFault.None;

    /// <summary>The last sequence that verified.</summary>
    public long LastSequence { get; init; }

    /// <summary>The replica whose chain this is (null: a node of one process, or not known).</summary>
    public string? Replica { get; init; }
}

/// <summary>One chain of a node's log: the records one replica (or the node of one process) wrote.</summary>
public sealed record LogChain(string Node, string? Replica, IReadOnlyList<LogEntry> Entries)
{
    /// <summary>"replica r1", or "the node's chain" for records written without a replica id.</summary>
    public string Name => Replica is null ? $"node {Node} (no replica id)" : $"node {Node} replica {Replica}";

    /// <summary>
    /// Records of one log, as consumed from a topic every replica ships to, split into chains by
    /// (node, replica), in the order they were given; chains ordered by node, then replica
    /// (the chain without a replica id first).
    /// </summary>
    public static IReadOnlyList<LogChain> Group(IEnumerable<LogEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        return [.. entries
            .GroupBy(e => (e.Node, e.Replica))
            .OrderBy(g => g.Key.Node, StringComparer.Ordinal).ThenBy(g => g.Key.Replica, StringComparer.Ordinal)
            .Select(g => new LogChain(g.Key.Node, g.Key.Replica, [.. g]))];
    }
}

/// <summary>
/// Checks a log's hash chain, sequence and checkpoint signatures, from the local files (in
/// storage order, so a swap shows as a swap) or from records consumed from Kafka (de-duplicated
/// by (node, log, sequence) and ordered by sequence). Like X-Road's offline verifier, it needs
/// nothing but the records and the node's public key.
/// </summary>
public static class LogVerifier
{
    /// <summary>Verifies the local store: archive index first, then records in [from, to].</summary>
    public static LogVerification VerifyStore(LogStore store, LogKind log, ECDsa? publicKey, long fromSeq = 1, long toSeq = long.MaxValue, string? node = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        var archives = VerifyArchives(store, log);
        if (!archives.Ok)
        {
            return archives;
        }

        var items = store.ReadLines(log, Math.Max(1, fromSeq - 1)).Select(line =>
            new Item(line.Complete ? LogEntry.TryParse(line.Bytes) : null, $"{Path.GetFileName(line.Source)} line {line.LineNumber}"));
        var marks = Marks(store, log);
        var result = Verify(items, log, node, publicKey, fromSeq, toSeq, marks);
        if (result.Ok && toSeq == long.MaxValue)
        {
            // Records deleted from the end leave an intact chain: only what outside it says it reached tells.
            foreach (var (file, sequence, _) in marks.Where(m => m.Sequence > result.LastSequence))
            {
                return new LogVerification(LogFault.Missing, result.LastSequence + 1,
                    Invariant($"The {log} log: it ends at record {result.LastSequence} but {Describe(file)} ({LogEntry.LogName(log)}/{file}) is at record {sequence}: records {result.LastSequence + 1} to {sequence} were deleted."),
                    result.RecordsChecked, result.CheckpointsChecked, result.SignaturesChecked);
            }
        }

        return result;
    }

    private static string Describe(string file) => file == LogStore.CheckpointFile ? "its last signed checkpoint" : "the Kafka relay's watermark";

    /// <summary>The last checkpoint kept beside the log and the relay's watermark: sequences the log must reach, with the hash found there.</summary>
    private static List<(string File, long Sequence, string? Hash)> Marks(LogStore store, LogKind log)
    {
        var marks = new List<(string, long, string?)>();
        if (LogStore.ReadCheckpointCopy(store, log).Entry is { } copy)
        {
            marks.Add((LogStore.CheckpointFile, copy.Sequence, copy.Hash));
        }

        if (LogStore.ReadWatermark(store, log) is { } watermark)
        {
            marks.Add((LogStore.WatermarkFile, watermark.Sequence, watermark.Hash));
        }

        return marks;
    }

    /// <summary>
    /// Verifies every chain in records read from a topic all replicas of a node ship to: grouped by
    /// (node, replica) (<see cref="LogChain.Group"/>), each chain de-duplicated, ordered and checked
    /// on its own, so a gap or a fork in one replica's chain is named with that replica.
    /// </summary>
    public static IReadOnlyList<LogVerification> VerifyChains(IEnumerable<LogEntry> consumed, LogKind log, string node, ECDsa? publicKey, long fromSeq = 1, long toSeq = long.MaxValue)
    {
        var chains = LogChain.Group(consumed);
        return [.. chains.Select(chain =>
        {
            var result = VerifyCopy(chain.Entries, log, node, publicKey, fromSeq, toSeq);
            return result with { Message = $"{chain.Name}: {result.Message}", Replica = chain.Replica };
        })];
    }

    /// <summary>Verifies one chain's records read from Kafka: duplicates dropped (identical) or reported (different), then ordered by sequence.</summary>
    public static LogVerification VerifyCopy(IEnumerable<LogEntry> consumed, LogKind log, string node, ECDsa? publicKey, long fromSeq = 1, long toSeq = long.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(consumed);
        var dedup = new LogDeduplicator();
        var unique = new List<LogEntry>();
        foreach (var entry in consumed)
        {
            switch (dedup.Add(entry))
            {
                case DeduplicationOutcome.New:
                    unique.Add(entry);
                    break;
                case DeduplicationOutcome.Conflict:
                    return new LogVerification(LogFault.ConflictingDuplicate, entry.Sequence,
                        Invariant($"Sequence {entry.Sequence} of the {log} log of node {entry.Node} appears twice with different content."), 0, 0, publicKey is not null);
                default:
                    break;
            }
        }

        unique.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        return Verify(unique.Select(e => new Item(e, null)), log, node, publicKey, fromSeq, toSeq);
    }

    /// <summary>Checks the archive index chain and each archive's SHA-256.</summary>
    public static LogVerification VerifyArchives(LogStore store, LogKind log)
    {
        ArgumentNullException.ThrowIfNull(store);
        var prev = LogEntry.GenesisHash;
        long lastSeq = 0;
        var folder = Path.Combine(store.FolderOf(log), LogStore.ArchiveFolder);
        var index = store.ArchiveIndex(log);
        for (var i = 0; i < index.Count; i++)
        {
            var entry = index[i];
            string? problem = null;
            if (entry is null)
            {
                problem = Invariant($"archive index line {i + 1} is unreadable");
            }
            else if (entry.Prev != prev || entry.Hash != ArchiveIndexEntry.ComputeHash(entry.File, entry.FirstSeq, entry.LastSeq, entry.Sha256, entry.Prev))
            {
                problem = Invariant($"archive index line {i + 1} ({entry.File}) does not chain to the line before");
            }
            else if (entry.FirstSeq != lastSeq + 1)
            {
                problem = Invariant($"archive {entry.File} starts at {entry.FirstSeq}, expected {lastSeq + 1}");
            }
            else
            {
                var path = Path.Combine(folder, entry.File);
                if (!File.Exists(path))
                {
                    problem = Invariant($"archive {entry.File} is missing");
                }
                else
                {
                    using var file = File.OpenRead(path);
                    if (Convert.ToHexStringLower(SHA256.HashData(file)) != entry.Sha256)
                    {
                        problem = Invariant($"archive {entry.File} does not match its SHA-256 in the index");
                    }
                }
            }

            if (problem is not null)
            {
                return new LogVerification(LogFault.ArchiveDamaged, entry?.FirstSeq, $"The {log} log: {problem}.", 0, 0, false);
            }

            prev = entry!.Hash;
            lastSeq = entry.LastSeq;
        }

        return new LogVerification(LogFault.None, null, Invariant($"{index.Count} archives intact."), 0, 0, false);
    }

    private static LogVerification Verify(IEnumerable<Item> items, LogKind log, string? node, ECDsa? publicKey, long fromSeq, long toSeq, List<(string File, long Sequence, string? Hash)>? marks = null)
    {
        var signatures = publicKey is not null;
        // A chain is one replica's from its first record on: the first entry read names it.
        var pinned = false;
        string? replica = null;
        var expected = Math.Max(1, fromSeq);
        var prevHash = expected == 1 ? LogEntry.GenesisHash : null;
        long records = 0;
        var checkpoints = 0;
        string? place = null;
        LogVerification Fail(LogFault fault, long? seq, string message) =>
            new(fault, seq, $"The {log} log: {message}{(place is null ? "" : $" ({place})")}", records, checkpoints, signatures) { Replica = replica };

        using var cursor = items.GetEnumerator();
        var hasItem = cursor.MoveNext();
        while (hasItem && expected <= toSeq)
        {
            var item = cursor.Current;
            hasItem = cursor.MoveNext();
            place = item.Place;
            if (item.Entry is not { } entry)
            {
                return Fail(LogFault.Unreadable, expected, Invariant($"{item.Place} is not a log entry (expected sequence {expected}): damaged or edited."));
            }

            if (!pinned)
            {
                pinned = true;
                replica = entry.Replica;
            }
            else if (entry.Replica != replica)
            {
                return Fail(LogFault.Foreign, entry.Sequence, Invariant($"record {entry.Sequence} belongs to the chain of {ReplicaName(entry.Replica)}, not of {ReplicaName(replica)}: moved from another replica's chain."));
            }

            if (entry.Sequence < expected)
            {
                if (entry.Sequence < fromSeq)
                {
                    // Before the range: only its hash matters, as the link of the first checked record.
                    if (entry.Sequence == fromSeq - 1)
                    {
                        prevHash = entry.Hash;
                    }

                    continue;
                }

                return Fail(LogFault.Reordered, entry.Sequence, Invariant($"record {entry.Sequence} appears after record {expected - 1}: reordered or repeated."));
            }

            if (entry.Sequence > expected)
            {
                var nextIsExpected = hasItem && cursor.Current.Entry?.Sequence == expected;
                return nextIsExpected
                    ? Fail(LogFault.Reordered, entry.Sequence, Invariant($"record {entry.Sequence} appears before record {expected}: reordered (swapped)."))
                    : Fail(LogFault.Missing, expected, Invariant($"record {expected} is missing (the next present is {entry.Sequence}): deleted."));
            }

            if (entry.Log != log || (node is not null && entry.Node != node))
            {
                return Fail(LogFault.Foreign, entry.Sequence, Invariant($"record {entry.Sequence} belongs to the {entry.Log} log of node {entry.Node}."));
            }

            if (!entry.HashMatches)
            {
                return Fail(LogFault.Edited, entry.Sequence, Invariant($"record {entry.Sequence} does not match its hash: edited."));
            }

            if (prevHash is not null && entry.PreviousHash != prevHash)
            {
                return Fail(LogFault.BrokenLink, entry.Sequence, Invariant($"record {entry.Sequence} does not link to record {entry.Sequence - 1}: the chain was replaced."));
            }

            if (marks?.FirstOrDefault(m => m.Sequence == entry.Sequence && m.Hash is not null && m.Hash != entry.Hash) is { File: { } markFile })
            {
                return Fail(LogFault.BrokenLink, entry.Sequence, Invariant($"record {entry.Sequence} is not the one {Describe(markFile)} ({LogEntry.LogName(log)}/{markFile}) names: the chain was rewritten."));
            }

            if (entry.Type == LogEntryType.Checkpoint)
            {
                var checkpoint = TryReadCheckpoint(entry);
                if (checkpoint is null
                    || checkpoint.SignedSequence != entry.Sequence - 1
                    || checkpoint.SignedHash != entry.PreviousHash
                    || (publicKey is not null && !checkpoint.VerifySignature(publicKey, entry.Node, log)))
                {
                    return Fail(LogFault.BadCheckpoint, entry.Sequence, Invariant($"checkpoint {entry.Sequence} does not verify with the node's key."));
                }

                checkpoints++;
            }
            else
            {
                records++;
            }

            prevHash = entry.Hash;
            expected++;
        }

        place = null;
        if (toSeq != long.MaxValue && expected <= toSeq)
        {
            return Fail(LogFault.Missing, expected, Invariant($"the log ends before record {expected} (range ends at {toSeq})."));
        }

        var signed = signatures ? "signatures verified" : "signatures NOT checked (no certificate given)";
        return new LogVerification(LogFault.None, null,
            Invariant($"The {log} log: {records} records and {checkpoints} checkpoints from {Math.Max(1, fromSeq)} to {expected - 1} verify; {signed}."),
            records, checkpoints, signatures)
        { LastSequence = expected - 1, Replica = replica };
    }

    private static string ReplicaName(string? replica) => replica is null ? "the node without a replica id" : $"replica {replica}";

    private static LogCheckpoint? TryReadCheckpoint(LogEntry entry)
    {
        try
        {
            return entry.Checkpoint;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed record Item(LogEntry? Entry, string? Place);
}

/// <summary>Outcome of offering a consumed record to <see cref="LogDeduplicator"/>.</summary>
public enum DeduplicationOutcome
{
    New,
    Duplicate,
    Conflict,
}

/// <summary>
/// Consumer-side de-duplication by (node, replica, log, sequence): the relay is at-least-once, so a
/// record may arrive twice; the copies must be identical, or the log was forked. Each replica of a
/// node has its own chain and sequence, so the same sequence from two replicas is two records.
/// </summary>
public sealed class LogDeduplicator
{
    private readonly Dictionary<(string Node, string? Replica, LogKind Log, long Sequence), string> _seen = [];

    public DeduplicationOutcome Add(LogEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var key = (entry.Node, entry.Replica, entry.Log, entry.Sequence);
        if (_seen.TryGetValue(key, out var hash))
        {
            return hash == entry.Hash && entry.HashMatches ? DeduplicationOutcome.Duplicate : DeduplicationOutcome.Conflict;
        }

        _seen[key] = entry.Hash;
        return DeduplicationOutcome.New;
    }
}
