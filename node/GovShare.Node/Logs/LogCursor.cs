using Microsoft.Win32.SafeHandles;

namespace GovShare.Node.Logs;

/// <summary>
/// Reads a log forward from a sequence number, following the live segment as it grows and
/// into the next segment after a rotation, without re-reading what it has passed. The relay's
/// reader for what the writer's hand-over (<see cref="LogFollower"/>) does not hold. <c>after</c>:
/// where the entry before <c>nextSequence</c> begins, when known, so a live segment is read on
/// from there rather than from its start.
/// </summary>
internal sealed class LogCursor(LogStore store, LogKind log, long nextSequence, LogPosition? after = null) : IDisposable
{
    private SafeFileHandle? _segment;
    private long _offset;
    private LogPosition? _after = after;
    private byte[] _buffer = new byte[1 << 20];

    public long NextSequence { get; private set; } = nextSequence;

    /// <summary>Up to <paramref name="max"/> entries with sequence ≤ <paramref name="upTo"/>, in order.</summary>
    public List<LogEntry> Read(int max, long upTo)
    {
        var result = new List<LogEntry>();
        while (result.Count < max && NextSequence <= upTo)
        {
            if (_segment is null && !OpenSegment(result, max, upTo))
            {
                continue;
            }

            if (!ReadSegment(result, max, upTo) && !NextSegment())
            {
                break;
            }
        }

        return result;
    }

    /// <summary>Opens the live segment holding the next sequence; false when the entries came from an archive instead.</summary>
    private bool OpenSegment(List<LogEntry> result, int max, long upTo)
    {
        var segment = store.Segments(log).LastOrDefault(s => s.FirstSeq <= NextSequence);
        if (segment.Path is not null)
        {
            try
            {
                _segment = File.OpenHandle(segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                // That entry's line is read again and passed over (its sequence is before the next).
                _offset = _after is { } at && at.SegmentFirstSeq == segment.FirstSeq && at.Offset <= RandomAccess.GetLength(_segment) ? at.Offset : 0;
                _after = null;
                return true;
            }
            catch (FileNotFoundException)
            {
                // Archived meanwhile: read it from the archive below.
            }
        }

        // Only after a long outage is the next record already in a gzip archive.
        foreach (var entry in store.ReadEntries(log, NextSequence, upTo).Take(max - result.Count))
        {
            result.Add(entry);
            NextSequence = entry.Sequence + 1;
        }

        if (result.Count == 0)
        {
            throw new InvalidDataException($"The {log} log has no record {NextSequence} in its segments or archives.");
        }

        return false;
    }

    /// <summary>Reads complete lines from the current offset; false at the end of what is written.</summary>
    private bool ReadSegment(List<LogEntry> result, int max, long upTo)
    {
        var read = RandomAccess.Read(_segment!, _buffer, _offset);
        if (read == 0)
        {
            return false;
        }

        var span = _buffer.AsSpan(0, read);
        var consumed = 0;
        while (result.Count < max && NextSequence <= upTo)
        {
            var newline = span[consumed..].IndexOf((byte)'\n');
            if (newline < 0)
            {
                break;
            }

            var line = _buffer.AsMemory(consumed, newline).ToArray();
            consumed += newline + 1;
            var entry = LogEntry.TryParse(line)
                ?? throw new InvalidDataException($"The {log} log has an unreadable line at byte {_offset + consumed - newline - 1}.");
            if (entry.Sequence < NextSequence)
            {
                continue;
            }

            if (entry.Sequence != NextSequence)
            {
                throw new InvalidDataException($"The {log} log jumps from {NextSequence - 1} to {entry.Sequence}.");
            }

            result.Add(entry);
            NextSequence++;
        }

        if (consumed == 0 && read == _buffer.Length)
        {
            // One line longer than the buffer.
            Array.Resize(ref _buffer, _buffer.Length * 2);
            return true;
        }

        _offset += consumed;
        return consumed > 0;
    }

    private bool NextSegment()
    {
        if (!store.Segments(log).Any(s => s.FirstSeq == NextSequence) && !ArchivedFrom(NextSequence))
        {
            return false;
        }

        _segment?.Dispose();
        _segment = null;
        return true;
    }

    private bool ArchivedFrom(long sequence) => store.ArchiveIndex(log).Any(e => e?.FirstSeq == sequence);

    public void Dispose() => _segment?.Dispose();
}
