using System.Text;

namespace GovShare.Adapters;

/// <summary>
/// An RFC 4180 record reader over a text stream: comma-separated fields, double-quoted fields
/// with doubled quotes and line breaks inside, CRLF or LF line ends. Streams with a fixed buffer.
/// An unquoted empty field reads as null, a quoted one (<c>""</c>) as the empty string.
/// </summary>
internal sealed class CsvRecordReader(TextReader reader, char delimiter = ',')
{
    private readonly char[] _buffer = new char[64 * 1024];
    private readonly StringBuilder _field = new();
    private int _position;
    private int _length;

    /// <summary>Physical line on which the last record read ended.</summary>
    public long Line { get; private set; }

    /// <summary>Reads one record into <paramref name="fields"/>; false at end of input.</summary>
    /// <exception cref="FormatException">A quoted field is not closed before the end of the input.</exception>
    public bool TryRead(List<string?> fields)
    {
        fields.Clear();
        if (!Fill())
        {
            return false;
        }

        while (true)
        {
            var (value, end) = ReadField();
            fields.Add(value);
            if (end)
            {
                Line++;
                return true;
            }
        }
    }

    private (string? Value, bool EndOfRecord) ReadField()
    {
        _field.Clear();
        if (Peek() == '"')
        {
            _position++;
            while (true)
            {
                if (!Fill())
                {
                    throw new FormatException($"A quoted field opened on line {Line + 1} is not closed before the end of the file.");
                }

                var c = _buffer[_position++];
                if (c == '"')
                {
                    if (Peek() == '"')
                    {
                        _field.Append('"');
                        _position++;
                        continue;
                    }

                    break;
                }

                if (c == '\n')
                {
                    Line++;
                }

                _field.Append(c);
            }

            // Text after the closing quote is kept, as spreadsheets do, rather than dropped.
            var (rest, end) = ReadUnquoted();
            return (_field.Append(rest).ToString(), end);
        }

        var (text, endOfRecord) = ReadUnquoted();
        return (text.Length == 0 ? null : text, endOfRecord);
    }

    private (string Text, bool EndOfRecord) ReadUnquoted()
    {
        var start = _field.Length;
        while (Fill())
        {
            var c = _buffer[_position++];
            if (c == delimiter)
            {
                return (Take(start), false);
            }

            if (c == '\n')
            {
                return (Take(start), true);
            }

            if (c == '\r')
            {
                if (Peek() == '\n')
                {
                    _position++;
                }

                return (Take(start), true);
            }

            _field.Append(c);
        }

        return (Take(start), true);
    }

    private string Take(int start)
    {
        var text = _field.ToString(start, _field.Length - start);
        _field.Length = start;
        return text;
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
}
