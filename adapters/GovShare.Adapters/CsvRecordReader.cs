using System.Buffers;

namespace GovShare.Adapters;

/// <summary>
/// An RFC 4180 record reader over a text stream: comma-separated fields, double-quoted fields
/// with doubled quotes and line breaks inside, CRLF or LF line ends. Streams with a fixed buffer.
/// An unquoted empty field reads as null, a quoted one (<c>""</c>) as the empty string.
/// </summary>
/// <remarks>
/// A record's fields are kept as spans of one reused character buffer (<see cref="Field"/>), not
/// as a string each: a typed cell (a number, a date, a timestamp) is parsed from its span, and
/// only text items and error reports make strings. Runs of ordinary characters are found with a
/// vectorised search and copied whole.
/// </remarks>
internal sealed class CsvRecordReader(TextReader reader, char delimiter = ',')
{
    private readonly char[] _buffer = new char[64 * 1024];
    private readonly SearchValues<char> _unquotedStops = SearchValues.Create([delimiter, '\r', '\n']);
    private static readonly SearchValues<char> QuotedStops = SearchValues.Create("\"\n");
    private char[] _record = new char[4 * 1024];
    private int _recordLength;
    private Bounds[] _fields = new Bounds[16];
    private int _position;
    private int _length;

    /// <summary>Physical line on which the last record read ended.</summary>
    public long Line { get; private set; }

    /// <summary>Fields of the record last read.</summary>
    public int FieldCount { get; private set; }

    /// <summary>Whether field <paramref name="index"/> is null (unquoted and empty).</summary>
    public bool IsNull(int index) => _fields[index].IsNull;

    /// <summary>Field <paramref name="index"/>'s text, valid until the next read (empty for a null).</summary>
    public ReadOnlySpan<char> Field(int index) => _record.AsSpan(_fields[index].Start, _fields[index].Length);

    /// <summary>Field <paramref name="index"/> as a string, or null.</summary>
    public string? FieldText(int index) => IsNull(index) ? null : new string(Field(index));

    /// <summary>Reads one record into <paramref name="fields"/>; false at end of input.</summary>
    /// <exception cref="FormatException">A quoted field is not closed before the end of the input.</exception>
    public bool TryRead(List<string?> fields)
    {
        fields.Clear();
        if (!TryRead())
        {
            return false;
        }

        for (var i = 0; i < FieldCount; i++)
        {
            fields.Add(FieldText(i));
        }

        return true;
    }

    /// <summary>Reads one record (<see cref="FieldCount"/>, <see cref="Field"/>); false at end of input.</summary>
    /// <exception cref="FormatException">A quoted field is not closed before the end of the input.</exception>
    public bool TryRead()
    {
        _recordLength = 0;
        FieldCount = 0;
        if (!Fill())
        {
            return false;
        }

        while (true)
        {
            var start = _recordLength;
            var quoted = Peek() == '"';
            if (quoted)
            {
                _position++;
                ReadQuoted();
            }

            // Text after a closing quote is kept, as spreadsheets do, rather than dropped.
            var end = ReadUnquoted();
            AddField(start, _recordLength - start, isNull: !quoted && _recordLength == start);
            if (end)
            {
                Line++;
                return true;
            }
        }
    }

    private void ReadQuoted()
    {
        while (true)
        {
            if (!Fill())
            {
                throw new FormatException($"A quoted field opened on line {Line + 1} is not closed before the end of the file.");
            }

            var rest = _buffer.AsSpan(_position, _length - _position);
            var stop = rest.IndexOfAny(QuotedStops);
            if (stop < 0)
            {
                Append(rest);
                _position = _length;
                continue;
            }

            Append(rest[..stop]);
            _position += stop + 1;
            if (rest[stop] == '\n')
            {
                Line++;
                Append("\n");
                continue;
            }

            if (Peek() == '"')
            {
                Append("\"");
                _position++;
                continue;
            }

            return;
        }
    }

    /// <summary>Reads to the end of the field; true when it also ended the record (a line end or the end of input).</summary>
    private bool ReadUnquoted()
    {
        while (Fill())
        {
            var rest = _buffer.AsSpan(_position, _length - _position);
            var stop = rest.IndexOfAny(_unquotedStops);
            if (stop < 0)
            {
                Append(rest);
                _position = _length;
                continue;
            }

            Append(rest[..stop]);
            _position += stop + 1;
            var c = rest[stop];
            if (c == delimiter)
            {
                return false;
            }

            if (c == '\r' && Peek() == '\n')
            {
                _position++;
            }

            return true;
        }

        return true;
    }

    private void Append(ReadOnlySpan<char> text)
    {
        if (_recordLength + text.Length > _record.Length)
        {
            Array.Resize(ref _record, Math.Max(_record.Length * 2, _recordLength + text.Length));
        }

        text.CopyTo(_record.AsSpan(_recordLength));
        _recordLength += text.Length;
    }

    private void AddField(int start, int length, bool isNull)
    {
        if (FieldCount == _fields.Length)
        {
            Array.Resize(ref _fields, _fields.Length * 2);
        }

        _fields[FieldCount++] = new Bounds(start, length, isNull);
    }

    private int Peek() => Fill() ? _buffer[_position] : -1;

    private bool Fill()
    {
        if (_position < _length)
        {
            return true;
        }

        _length = reader.Read(_buffer, 0, _buffer.Length);
        _position = 0;
        return _length > 0;
    }

    private readonly record struct Bounds(int Start, int Length, bool IsNull);
}
