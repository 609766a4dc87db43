using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Logs;

/// <summary>
/// Start-up recovery of one log. Only one thing is a crash artefact: an incomplete final line of
/// the last segment (no newline, or bytes that are not JSON), because the writer appends whole
/// lines and fsyncs before it acknowledges. That line is truncated and reported. Everything else
/// that does not check out is damage or tampering and the writer refuses to start: a complete
/// record whose hash fails, a gap, a swap, a broken link, and a chain shorter than its last signed
/// checkpoint (<see cref="LogStore.CheckpointFile"/>) or the relay's watermark
/// (<see cref="LogStore.WatermarkFile"/>) says — deleted tail records leave no other trace.
/// </summary>
internal static class LogRecoverer
{
    public sealed record Result(LogRecovery Report, long LastSequence, string LastHash, string? SegmentPath);

    public static Result Recover(LogKind kind, LogStore store, ILogger logger)
    {
        RemoveArchivedSegments(kind, store);
        var segments = store.Segments(kind);
        var marks = Marks(kind, store);
        if (segments.Count == 0)
        {
            var (seq, hash) = LastBefore(kind, store, long.MaxValue);
            CheckMarks(kind, marks, seq, [], "the archive");
            return new Result(new LogRecovery(kind, seq, 0, null), seq, hash, null);
        }

        // The chain continues from what the archives (or closed segments) end with.
        var (before, beforeHash) = LastBefore(kind, store, segments[0].FirstSeq);
        if (before != segments[0].FirstSeq - 1)
        {
            throw Tampered(kind, before + 1, Path.GetFileName(segments[0].Path), 1,
                $"segment {Path.GetFileName(segments[0].Path)} starts at {segments[0].FirstSeq} but the log before it ends at {before}: records are missing");
        }

        var lastSeq = before;
        var lastHash = beforeHash;
        var seen = new Dictionary<long, string>();
        long truncated = 0;
        string? truncatedFile = null;
        for (var s = 0; s < segments.Count; s++)
        {
            var (firstSeq, path) = segments[s];
            var file = Path.GetFileName(path);
            var isLastSegment = s == segments.Count - 1;
            if (firstSeq != lastSeq + 1)
            {
                throw Tampered(kind, lastSeq + 1, file, 1, $"segment {file} starts at {firstSeq}, expected {lastSeq + 1}: records are missing");
            }

            long goodEnd = 0;
            StoredLine? torn = null;
            using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                using var lines = LogStore.SplitLines(stream, path).GetEnumerator();
                var hasLine = lines.MoveNext();
                while (hasLine)
                {
                    var line = lines.Current;
                    hasLine = lines.MoveNext();
                    var isFinal = isLastSegment && !hasLine;
                    if (isFinal && (!line.Complete || !IsJson(line.Bytes)))
                    {
                        torn = line;
                        break;
                    }

                    var expected = lastSeq + 1;
                    var entry = line.Complete ? LogEntry.TryParse(line.Bytes) : null;
                    var swapped = entry is not null && entry.Sequence > expected && hasLine && lines.Current.Complete
                        && LogEntry.TryParse(lines.Current.Bytes)?.Sequence == expected;
                    var problem = entry switch
                    {
                        null => $"line {line.LineNumber} is not a log entry (expected record {expected})",
                        _ when entry.Log != kind => $"record {entry.Sequence} belongs to the {entry.Log} log",
                        _ when swapped => $"record {entry.Sequence} appears before record {expected}: reordered (swapped)",
                        _ when entry.Sequence > expected => $"record {expected} is missing (the next present is {entry.Sequence}): deleted",
                        _ when entry.Sequence < expected => $"record {entry.Sequence} appears after record {expected - 1}: reordered or repeated",
                        _ when !entry.HashMatches => $"record {entry.Sequence} does not match its hash: edited",
                        _ when entry.PreviousHash != lastHash => $"record {entry.Sequence} does not link to record {entry.Sequence - 1}: the chain was rewritten",
                        _ => null,
                    };
                    if (problem is not null)
                    {
                        throw Tampered(kind, entry?.Sequence is { } at && (at <= expected || swapped) ? at : expected, file, line.LineNumber, problem);
                    }

                    lastSeq = entry!.Sequence;
                    lastHash = entry.Hash;
                    seen[lastSeq] = lastHash;
                    goodEnd += line.Bytes.Length + 1;
                }
            }

            if (torn is not null)
            {
                truncated = new FileInfo(path).Length - goodEnd;
                truncatedFile = file;
                using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.Read))
                {
                    stream.SetLength(goodEnd);
                    stream.Flush(flushToDisk: true);
                }

                LogsDiagnostics.TornRecordTruncated(logger, kind, truncated, lastSeq, file);
            }
        }

        CheckMarks(kind, marks, lastSeq, seen, Path.GetFileName(segments[^1].Path));
        return new Result(new LogRecovery(kind, lastSeq, truncated, truncatedFile), lastSeq, lastHash, segments[^1].Path);
    }

    /// <summary>A torn write leaves bytes that are not JSON; a complete JSON line is a record, checked as one.</summary>
    private static bool IsJson(ReadOnlyMemory<byte> bytes)
    {
        try
        {
            using var document = JsonDocument.Parse(bytes);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>What outside the chain says it reached: the last signed checkpoint and the relay's watermark.</summary>
    private static List<(string File, long Sequence, string? Hash)> Marks(LogKind kind, LogStore store)
    {
        var marks = new List<(string, long, string?)>();
        var (present, copy) = LogStore.ReadCheckpointCopy(store, kind);
        if (present)
        {
            if (copy is not { Type: LogEntryType.Checkpoint, HashMatches: true } || copy.Log != kind)
            {
                throw Tampered(kind, 0, LogStore.CheckpointFile, 1, $"the last-checkpoint file {LogStore.CheckpointFile} is not a checkpoint of this log");
            }

            marks.Add((LogStore.CheckpointFile, copy.Sequence, copy.Hash));
        }

        if (LogStore.ReadWatermark(store, kind) is { } watermark)
        {
            marks.Add((LogStore.WatermarkFile, watermark.Sequence, watermark.Hash));
        }

        return marks;
    }

    private static void CheckMarks(LogKind kind, List<(string File, long Sequence, string? Hash)> marks, long lastSeq, Dictionary<long, string> seen, string lastFile)
    {
        foreach (var (file, sequence, hash) in marks)
        {
            var what = file == LogStore.CheckpointFile ? "its last signed checkpoint" : "the Kafka relay's watermark";
            if (sequence > lastSeq)
            {
                throw Tampered(kind, lastSeq + 1, lastFile, null,
                    $"the log ends at record {lastSeq} in {lastFile} but {what} ({Path.Combine(LogEntry.LogName(kind), file)}) is at record {sequence}: records {lastSeq + 1} to {sequence} were deleted");
            }

            if (hash is not null && seen.TryGetValue(sequence, out var stored) && stored != hash)
            {
                throw Tampered(kind, sequence, lastFile, null,
                    $"record {sequence} is not the one {what} ({Path.Combine(LogEntry.LogName(kind), file)}) names: the chain was rewritten");
            }
        }
    }

    private static LogCorruptedException Tampered(LogKind kind, long sequence, string file, long? line, string problem) =>
        new(kind, sequence, file,
            string.Create(CultureInfo.InvariantCulture, $"The {LogEntry.LogName(kind)} log is damaged or tampered with at record {sequence} ({file}{(line is { } l ? $" line {l}" : "")}): {problem}. ")
                + "This is not a torn write, so the node does not start. Run 'govshare log verify' and restore the log from Kafka or a backup.");

    /// <summary>Sequence and hash of the last entry before <paramref name="beforeSeq"/>, from archives and closed segments.</summary>
    private static (long Sequence, string Hash) LastBefore(LogKind kind, LogStore store, long beforeSeq)
    {
        var start = Math.Max(1, beforeSeq == long.MaxValue ? 1 : beforeSeq - 1);
        long seq = 0;
        var hash = LogEntry.GenesisHash;
        foreach (var line in store.ReadLines(kind, start))
        {
            var entry = line.Complete ? LogEntry.TryParse(line.Bytes) : null;
            if (entry is null || entry.Sequence >= beforeSeq)
            {
                break;
            }

            (seq, hash) = (entry.Sequence, entry.Hash);
        }

        return (seq, hash);
    }

    /// <summary>A crash between writing the archive index and deleting the segment leaves both; the archive wins.</summary>
    private static void RemoveArchivedSegments(LogKind kind, LogStore store)
    {
        var archiveFolder = Path.Combine(store.FolderOf(kind), LogStore.ArchiveFolder);
        var archived = store.ArchiveIndex(kind)
            .Where(e => e is not null && File.Exists(Path.Combine(archiveFolder, e.File)))
            .Select(e => e!.FirstSeq)
            .ToHashSet();
        foreach (var (first, path) in store.Segments(kind))
        {
            if (archived.Contains(first))
            {
                File.Delete(path);
            }
        }
    }
}
