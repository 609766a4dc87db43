using Microsoft.Extensions.Logging;

namespace GovShare.Node.Logs;

/// <summary>
/// Start-up recovery of one log. A crash can leave the last write of the last segment cut
/// short: that tail is truncated and reported. A damaged record followed by a valid one is
/// not a torn write but damage or tampering, and the writer refuses to start.
/// </summary>
internal static class LogRecoverer
{
    public sealed record Result(LogRecovery Report, long LastSequence, string LastHash, string? SegmentPath);

    public static Result Recover(LogKind kind, LogStore store, ILogger logger)
    {
        RemoveArchivedSegments(kind, store);
        var segments = store.Segments(kind);
        if (segments.Count == 0)
        {
            var (seq, hash) = LastBefore(kind, store, long.MaxValue);
            return new Result(new LogRecovery(kind, seq, 0, null), seq, hash, null);
        }

        var (firstSeq, path) = segments[^1];
        long offset = 0;
        long goodEnd = 0;
        long lastSeq = firstSeq - 1;
        string? lastHash = null;
        var damagedAt = -1L;
        var laterValid = false;
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            foreach (var line in LogStore.SplitLines(file, path))
            {
                var entry = line.Complete ? LogEntry.TryParse(line.Bytes) : null;
                var valid = entry is not null && entry.HashMatches && entry.Log == kind;
                if (damagedAt < 0)
                {
                    if (valid && entry!.Sequence == lastSeq + 1 && (lastHash is null || entry.PreviousHash == lastHash))
                    {
                        lastSeq = entry.Sequence;
                        lastHash = entry.Hash;
                        offset += line.Bytes.Length + 1;
                        goodEnd = offset;
                        continue;
                    }

                    damagedAt = line.LineNumber;
                }
                else if (valid)
                {
                    laterValid = true;
                    break;
                }
            }
        }

        if (laterValid)
        {
            throw new LogCorruptedException(
                $"The {kind} log is damaged at {Path.GetFileName(path)} line {damagedAt} (after sequence {lastSeq}) and valid records follow; " +
                "this is not a torn write. Run 'govshare log verify' and restore the segment from Kafka or a backup.");
        }

        long truncated = 0;
        string? truncatedFile = null;
        var length = new FileInfo(path).Length;
        if (length > goodEnd)
        {
            truncated = length - goodEnd;
            truncatedFile = Path.GetFileName(path);
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.Read))
            {
                file.SetLength(goodEnd);
                file.Flush(flushToDisk: true);
            }

            LogsDiagnostics.TornRecordTruncated(logger, kind, truncated, lastSeq, truncatedFile);
        }

        if (lastHash is null)
        {
            var (seq, hash) = LastBefore(kind, store, firstSeq);
            if (seq != firstSeq - 1)
            {
                throw new LogCorruptedException($"The {kind} log segment {Path.GetFileName(path)} starts at {firstSeq} but the log before it ends at {seq}.");
            }

            lastHash = hash;
        }

        return new Result(new LogRecovery(kind, lastSeq, truncated, truncatedFile), lastSeq, lastHash, path);
    }

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
