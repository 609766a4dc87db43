using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace GovShare.Node.Logs;

/// <summary>
/// One stored line with where it was found, for error messages that name a place;
/// <see cref="At"/> is where it begins in its segment (the uncompressed bytes of an archived one).
/// </summary>
public sealed record StoredLine(string Source, long LineNumber, ReadOnlyMemory<byte> Bytes, bool Complete)
{
    public LogPosition At { get; init; }
}

/// <summary>Where an entry begins: the segment (by its first sequence, live or archived) and the byte offset in it, uncompressed.</summary>
public readonly record struct LogPosition(long SegmentFirstSeq, long Offset);

/// <summary>One archived segment as listed in <c>archive/index.jsonl</c>; each links to the one before.</summary>
public sealed record ArchiveIndexEntry(string File, long FirstSeq, long LastSeq, string Sha256, string Prev, string Hash)
{
    public static string ComputeHash(string file, long firstSeq, long lastSeq, string sha256, string prev) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Create(CultureInfo.InvariantCulture, $"govshare-archive/1\n{file}\n{firstSeq}\n{lastSeq}\n{sha256}\n{prev}"))));
}

/// <summary>
/// Read-only view of a node's log files (<c>&lt;data&gt;/logs/&lt;log&gt;/</c>): live segments
/// <c>segment-&lt;firstSeq&gt;.jsonl</c> and gzip archives listed in <c>archive/index.jsonl</c>.
/// Needs no lock, so <c>govshare log verify</c> can read a running node's folder.
/// </summary>
public sealed class LogStore(string logsFolder)
{
    internal const string SegmentPrefix = "segment-";
    internal const string SegmentSuffix = ".jsonl";
    internal const string ArchiveFolder = "archive";
    internal const string IndexFile = "index.jsonl";

    /// <summary>A copy of the log's last signed checkpoint line, replaced (write, fsync, rename) after each one.</summary>
    public const string CheckpointFile = "checkpoint";

    /// <summary>The Kafka relay's watermark: "&lt;sequence&gt; &lt;hash&gt;" of the last record Kafka confirmed.</summary>
    public const string WatermarkFile = "shipped";

    public string LogsFolder { get; } = logsFolder;

    /// <summary>The logs folder inside a node data folder.</summary>
    public static LogStore ForDataFolder(string dataPath) => new(Path.Combine(dataPath, "logs"));

    public string FolderOf(LogKind log) => Path.Combine(LogsFolder, LogEntry.LogName(log));

    internal static string SegmentName(long firstSeq) => string.Create(CultureInfo.InvariantCulture, $"{SegmentPrefix}{firstSeq:D20}{SegmentSuffix}");

    internal static long? SegmentFirstSeq(string fileName)
    {
        var name = Path.GetFileName(fileName);
        if (!name.StartsWith(SegmentPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        var end = name.IndexOf('.', StringComparison.Ordinal);
        return end > SegmentPrefix.Length && long.TryParse(name.AsSpan(SegmentPrefix.Length, end - SegmentPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var seq)
            ? seq
            : null;
    }

    /// <summary>Live segment files in sequence order (first sequence, path).</summary>
    public IReadOnlyList<(long FirstSeq, string Path)> Segments(LogKind log)
    {
        var folder = FolderOf(log);
        if (!Directory.Exists(folder))
        {
            return [];
        }

        return [.. Directory.EnumerateFiles(folder, SegmentPrefix + "*" + SegmentSuffix)
            .Select(p => (FirstSeq: SegmentFirstSeq(p), Path: p))
            .Where(s => s.FirstSeq is not null)
            .Select(s => (s.FirstSeq!.Value, s.Path))
            .OrderBy(s => s.Item1)];
    }

    /// <summary>The archive index, in order; lines that do not parse are returned as null entries.</summary>
    public IReadOnlyList<ArchiveIndexEntry?> ArchiveIndex(LogKind log)
    {
        var index = Path.Combine(FolderOf(log), ArchiveFolder, IndexFile);
        if (!File.Exists(index))
        {
            return [];
        }

        var result = new List<ArchiveIndexEntry?>();
        foreach (var line in File.ReadAllLines(index))
        {
            if (line.Length == 0)
            {
                continue;
            }

            try
            {
                result.Add(JsonSerializer.Deserialize<ArchiveIndexEntry>(line, LogJson.Options));
            }
            catch (JsonException)
            {
                result.Add(null);
            }
        }

        return result;
    }

    /// <summary>
    /// Every line of a log in storage order: archives first, then live segments not yet archived.
    /// Order is kept as found so the verifier sees a swap as a swap.
    /// </summary>
    public IEnumerable<StoredLine> ReadLines(LogKind log, long fromSeq = 1)
    {
        var archived = new HashSet<long>();
        var archiveFolder = Path.Combine(FolderOf(log), ArchiveFolder);
        foreach (var entry in ArchiveIndex(log))
        {
            if (entry is null)
            {
                continue;
            }

            archived.Add(entry.FirstSeq);
            if (entry.LastSeq < fromSeq)
            {
                continue;
            }

            var path = Path.Combine(archiveFolder, entry.File);
            // The decompressor reads its input 8 KiB at a time; a 1 MiB buffer makes that one read call per MiB of the archive, not 128.
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            using var gzip = new GZipStream(file, CompressionMode.Decompress);
            foreach (var line in SplitLines(gzip, path, entry.FirstSeq))
            {
                yield return line;
            }
        }

        var segments = Segments(log);
        for (var i = 0; i < segments.Count; i++)
        {
            var (first, path) = segments[i];
            if (archived.Contains(first) || (i + 1 < segments.Count && segments[i + 1].FirstSeq <= fromSeq))
            {
                continue;
            }

            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
            foreach (var line in SplitLines(file, path, first))
            {
                yield return line;
            }
        }
    }

    /// <summary>The parsed entries of a log with sequence in [from, to] and where each begins, in storage order; unreadable lines throw.</summary>
    /// <param name="log">The log.</param>
    /// <param name="fromSeq">The first sequence wanted.</param>
    /// <param name="toSeq">The last sequence wanted.</param>
    /// <param name="resume">
    /// Where an entry before <paramref name="fromSeq"/> begins (the last one a reader took): when its
    /// segment is still live, reading starts there, not at the segment's beginning, so a reader that
    /// tails the log reads only what was appended since.
    /// </param>
    public IEnumerable<(LogEntry Entry, LogPosition At)> ReadEntriesAt(LogKind log, long fromSeq = 1, long toSeq = long.MaxValue, LogPosition? resume = null)
    {
        var lines = resume is { } at && LiveFrom(log, at) is { } tail ? tail : ReadLines(log, fromSeq);
        foreach (var line in lines)
        {
            if (!line.Complete)
            {
                yield break;
            }

            var entry = LogEntry.TryParse(line.Bytes)
                ?? throw new InvalidDataException($"{line.Source}:{line.LineNumber} is not a log entry.");
            if (entry.Sequence > toSeq)
            {
                yield break;
            }

            if (entry.Sequence >= fromSeq)
            {
                yield return (entry, line.At);
            }
        }
    }

    /// <summary>The lines of the live segments from <paramref name="at"/> on; null when that segment is not live (archived or gone).</summary>
    private IEnumerable<StoredLine>? LiveFrom(LogKind log, LogPosition at)
    {
        var segments = Segments(log);
        var index = -1;
        for (var i = 0; i < segments.Count; i++)
        {
            index = segments[i].FirstSeq == at.SegmentFirstSeq ? i : index;
        }

        if (index < 0 || ArchiveIndex(log).Any(e => e?.FirstSeq == at.SegmentFirstSeq) || new FileInfo(segments[index].Path).Length < at.Offset)
        {
            return null;
        }

        return Lines(segments, index, at.Offset);

        static IEnumerable<StoredLine> Lines(IReadOnlyList<(long FirstSeq, string Path)> segments, int index, long offset)
        {
            for (var i = index; i < segments.Count; i++)
            {
                var (first, path) = segments[i];
                using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
                var start = i == index ? offset : 0;
                file.Seek(start, SeekOrigin.Begin);
                foreach (var line in SplitLines(file, path, first, start))
                {
                    yield return line;
                }
            }
        }
    }

    /// <summary>
    /// The one entry that begins at <paramref name="at"/>, read without the log before it: a seek in
    /// its live segment, or (once that segment is archived) its archive decompressed up to there.
    /// Null when there is no such segment or no complete entry there.
    /// </summary>
    public LogEntry? ReadEntryAt(LogKind log, LogPosition at)
    {
        var live = Path.Combine(FolderOf(log), SegmentName(at.SegmentFirstSeq));
        try
        {
            if (File.Exists(live))
            {
                using var file = new FileStream(live, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
                if (at.Offset >= file.Length)
                {
                    return null;
                }

                file.Seek(at.Offset, SeekOrigin.Begin);
                return FirstEntry(file, live);
            }

            if (ArchiveIndex(log).FirstOrDefault(e => e?.FirstSeq == at.SegmentFirstSeq) is { } archived)
            {
                var path = Path.Combine(FolderOf(log), ArchiveFolder, archived.File);
                using var file = File.OpenRead(path);
                using var gzip = new GZipStream(file, CompressionMode.Decompress);
                var skip = new byte[1 << 16];
                for (var left = at.Offset; left > 0;)
                {
                    var read = gzip.Read(skip, 0, (int)Math.Min(skip.Length, left));
                    if (read == 0)
                    {
                        return null;
                    }

                    left -= read;
                }

                return FirstEntry(gzip, path);
            }
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return null;
        }

        return null;

        static LogEntry? FirstEntry(Stream stream, string source)
        {
            var line = SplitLines(stream, source, 0).FirstOrDefault();
            return line is { Complete: true } ? LogEntry.TryParse(line.Bytes) : null;
        }
    }

    /// <summary>The parsed entries of a log with sequence in [from, to], in storage order; unreadable lines throw.</summary>
    public IEnumerable<LogEntry> ReadEntries(LogKind log, long fromSeq = 1, long toSeq = long.MaxValue) =>
        ReadEntriesAt(log, fromSeq, toSeq).Select(e => e.Entry);

    /// <summary>The copy of the log's last signed checkpoint (<see cref="CheckpointFile"/>); null when absent, and an unparsable copy as an entry-less result.</summary>
    public static (bool Present, LogEntry? Entry) ReadCheckpointCopy(LogStore store, LogKind log)
    {
        ArgumentNullException.ThrowIfNull(store);
        var path = Path.Combine(store.FolderOf(log), CheckpointFile);
        if (!File.Exists(path))
        {
            return (false, null);
        }

        var bytes = File.ReadAllBytes(path);
        var length = bytes.Length > 0 && bytes[^1] == (byte)'\n' ? bytes.Length - 1 : bytes.Length;
        return (true, LogEntry.TryParse(bytes.AsMemory(0, length)));
    }

    /// <summary>The relay's watermark of a log, if it has shipped anything; the hash is absent in watermarks of older nodes.</summary>
    public static (long Sequence, string? Hash)? ReadWatermark(LogStore store, LogKind log)
    {
        ArgumentNullException.ThrowIfNull(store);
        var path = Path.Combine(store.FolderOf(log), WatermarkFile);
        if (!File.Exists(path))
        {
            return null;
        }

        var parts = File.ReadAllText(path).Split(' ', '\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return parts.Length > 0 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var seq)
            ? (seq, parts.Length > 1 ? parts[1] : null)
            : null;
    }

    /// <summary>Replaces a small file so that a crash leaves the old or the new content, never a torn one: write, fsync, rename, fsync the folder.</summary>
    internal static void ReplaceFile(string path, ReadOnlySpan<byte> content) => ReplaceFile(path, content, []);

    /// <summary>Replaces <paramref name="path"/> with <paramref name="first"/> then <paramref name="second"/> (write, fsync, rename, fsync the folder), without joining them in memory first.</summary>
    internal static void ReplaceFile(string path, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(first);
            file.Write(second);
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
        DirectorySync.Flush(Path.GetDirectoryName(path)!);
    }

    internal static IEnumerable<StoredLine> SplitLines(Stream stream, string source, long segmentFirstSeq = 0, long startOffset = 0)
    {
        var buffer = new byte[1 << 16];
        // A line that spans two reads is gathered here; one within a read is copied out of the buffer directly.
        var pending = new MemoryStream();
        long lineNumber = 0;
        long consumed = startOffset;
        long lineStart = startOffset;
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            var start = 0;
            int newline;
            // IndexOf is vectorised: a rebuild splits every byte of the log (a gigabyte at ten million entries).
            while ((newline = buffer.AsSpan(start, read - start).IndexOf((byte)'\n')) >= 0)
            {
                var end = start + newline;
                byte[] line;
                if (pending.Length == 0)
                {
                    line = buffer.AsSpan(start, end - start).ToArray();
                }
                else
                {
                    pending.Write(buffer, start, end - start);
                    line = pending.ToArray();
                    pending.SetLength(0);
                }

                lineNumber++;
                yield return new StoredLine(source, lineNumber, line, Complete: true) { At = new LogPosition(segmentFirstSeq, lineStart) };
                start = end + 1;
                lineStart = consumed + start;
            }

            pending.Write(buffer, start, read - start);
            consumed += read;
        }

        if (pending.Length > 0)
        {
            yield return new StoredLine(source, lineNumber + 1, pending.ToArray(), Complete: false) { At = new LogPosition(segmentFirstSeq, lineStart) };
        }
    }
}
