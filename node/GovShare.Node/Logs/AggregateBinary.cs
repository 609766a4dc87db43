using System.Buffers;
using System.Text;
using System.Text.Json;

namespace GovShare.Node.Logs;

/// <summary>
/// The saved aggregates' body (<see cref="ChainAggregates{T}"/>, format 2): a tag naming the
/// aggregate, its format version, then numbers as 7-bit varints and strings interned as they first
/// appear (a party, a key or a resource code is written once, then as a small number). A JSON body
/// spelled every key, user set and kept record out in full: 90 MB and 427 MB at 10 million records,
/// seconds to parse at every start and to rewrite at every save. The file's checksum is the header's
/// (<see cref="ChainAggregates{T}"/>); this only writes and reads.
/// </summary>
public sealed class AggregateWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(1 << 16);
    private readonly Dictionary<string, long> _strings = new(StringComparer.Ordinal);

    /// <summary>Begins a body: what it is (one ASCII tag per aggregate) and its format version.</summary>
    public AggregateWriter(string tag, int version)
    {
        Text(tag);
        Number(version);
    }

    public void Number(long value)
    {
        var span = _buffer.GetSpan(10);
        var n = 0;
        var v = (ulong)value;
        while (v >= 0x80)
        {
            span[n++] = (byte)(v | 0x80);
            v >>= 7;
        }

        span[n++] = (byte)v;
        _buffer.Advance(n);
    }

    /// <summary>A string, or null: 0 = null, n = the (n-1)th string written, a new one is spelled out after its number.</summary>
    public void Text(string? value)
    {
        if (value is null)
        {
            Number(0);
            return;
        }

        if (_strings.TryGetValue(value, out var id))
        {
            Number(id + 1);
            return;
        }

        Number(_strings.Count + 1);
        _strings[value] = _strings.Count;
        var length = Encoding.UTF8.GetByteCount(value);
        Number(length);
        Encoding.UTF8.GetBytes(value, _buffer.GetSpan(length));
        _buffer.Advance(length);
    }

    /// <summary>A string written in full, not remembered (an exchange id: each appears once, so interning it would only fill the table).</summary>
    public void Unique(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var length = Encoding.UTF8.GetByteCount(value);
        Number(length);
        Encoding.UTF8.GetBytes(value, _buffer.GetSpan(length));
        _buffer.Advance(length);
    }

    /// <summary>A point in time with its offset (the record's own, kept as written).</summary>
    public void Time(DateTimeOffset value)
    {
        Number(value.UtcTicks);
        Number((long)value.Offset.TotalMinutes);
    }

    /// <summary>A log record, every field (the evaluation keeps some whole and hands them to its calculators as read from the log).</summary>
    public void Record(LogRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        Text(record.ExchangeId);
        Time(record.Time);
        Text(record.Caller);
        Text(record.OnBehalfOf);
        Number((long)record.Kind);
        Text(record.ResourceCode);
        Text(record.Provider);
        Number(record.Items.Count);
        foreach (var item in record.Items)
        {
            Text(item);
        }

        Text(record.Purpose);
        Text(record.GrantId);
        Text(record.Recipient);
        Number(record.Rows);
        Number(record.Bytes);
        Text(record.Mode);
        Number(record.Status);
        Text(record.ProblemType);
        Number(record.DurationMs);
        Number(record.Hop);
        Text(record.Entity);
        Text(record.Diff is { } diff ? diff.GetRawText() : null);
    }

    /// <summary>The body written so far.</summary>
    public ReadOnlyMemory<byte> Written => _buffer.WrittenMemory;
}

/// <summary>Reads what <see cref="AggregateWriter"/> wrote; anything that does not read (torn, foreign, another version) throws <see cref="InvalidDataException"/>.</summary>
public ref struct AggregateReader
{
    private readonly ReadOnlySpan<byte> _bytes;
    private readonly List<string> _strings;
    private int _at;

    /// <summary>Opens a body; false when it is not <paramref name="tag"/>'s or not of <paramref name="version"/> (the caller then rebuilds).</summary>
    public AggregateReader(ReadOnlySpan<byte> bytes, string tag, int version, out bool matches)
    {
        _bytes = bytes;
        _strings = [];
        _at = 0;
        try
        {
            matches = Text() == tag && Number() == version;
        }
        catch (InvalidDataException)
        {
            matches = false;
        }
    }

    /// <summary>Whether every byte was read (a body with bytes left over is not what was written).</summary>
    public readonly bool AtEnd => _at == _bytes.Length;

    public long Number()
    {
        ulong value = 0;
        for (var shift = 0; shift < 70; shift += 7)
        {
            if (_at >= _bytes.Length)
            {
                throw new InvalidDataException("The saved aggregate ends inside a number.");
            }

            var b = _bytes[_at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return (long)value;
            }
        }

        throw new InvalidDataException("A number of the saved aggregate is too long.");
    }

    /// <summary>A count or an index: not negative and at most <paramref name="max"/>.</summary>
    public int Count(int max = int.MaxValue)
    {
        var value = Number();
        return value >= 0 && value <= max ? (int)value : throw new InvalidDataException("A count of the saved aggregate is out of range.");
    }

    public string? Text()
    {
        var id = Number();
        if (id == 0)
        {
            return null;
        }

        if (id > 0 && id <= _strings.Count)
        {
            return _strings[(int)id - 1];
        }

        if (id != _strings.Count + 1)
        {
            throw new InvalidDataException("A string of the saved aggregate refers to none written before.");
        }

        var length = Count(_bytes.Length - _at);
        var value = Encoding.UTF8.GetString(_bytes.Slice(_at, length));
        _at += length;
        _strings.Add(value);
        return value;
    }

    /// <summary>What <see cref="AggregateWriter.Unique"/> wrote.</summary>
    public string Unique()
    {
        var length = Count(_bytes.Length - _at);
        var value = Encoding.UTF8.GetString(_bytes.Slice(_at, length));
        _at += length;
        return value;
    }

    public string Required() => Text() ?? throw new InvalidDataException("A required string of the saved aggregate is missing.");

    public DateTimeOffset Time()
    {
        var ticks = Number();
        var minutes = Number();
        if (ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks || minutes is < -14 * 60 or > 14 * 60)
        {
            throw new InvalidDataException("A time of the saved aggregate is out of range.");
        }

        var offset = TimeSpan.FromMinutes(minutes);
        var local = ticks + offset.Ticks;
        return local < DateTime.MinValue.Ticks || local > DateTime.MaxValue.Ticks
            ? throw new InvalidDataException("A time of the saved aggregate is out of range.")
            : new DateTimeOffset(new DateTime(ticks, DateTimeKind.Utc)).ToOffset(offset);
    }

    public ExchangeKind Kind()
    {
        var kind = (ExchangeKind)Number();
        return Enum.IsDefined(kind) ? kind : throw new InvalidDataException("An exchange kind of the saved aggregate is unknown.");
    }

    public LogRecord Record()
    {
        var exchangeId = Required();
        var time = Time();
        var caller = Required();
        var onBehalfOf = Text();
        var kind = Kind();
        var resourceCode = Text();
        var provider = Text();
        var items = new string[Count(_bytes.Length - _at)];
        for (var i = 0; i < items.Length; i++)
        {
            items[i] = Required();
        }

        var record = new LogRecord
        {
            ExchangeId = exchangeId,
            Time = time,
            Caller = caller,
            OnBehalfOf = onBehalfOf,
            Kind = kind,
            ResourceCode = resourceCode,
            Provider = provider,
            Items = items,
            Purpose = Text(),
            GrantId = Text(),
            Recipient = Text(),
            Rows = Number(),
            Bytes = Number(),
            Mode = Text(),
            Status = (int)Number(),
            ProblemType = Text(),
            DurationMs = Number(),
            Hop = (int)Number(),
            Entity = Text(),
        };
        if (Text() is { } diff)
        {
            try
            {
                using var document = JsonDocument.Parse(diff);
                record = record with { Diff = document.RootElement.Clone() };
            }
            catch (JsonException e)
            {
                throw new InvalidDataException("A kept record's diff of the saved aggregate is not JSON.", e);
            }
        }

        return record;
    }
}
