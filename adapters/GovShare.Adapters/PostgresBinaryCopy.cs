using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace GovShare.Adapters;

/// <summary>
/// PostgreSQL's binary COPY format (the protocol documentation's "Binary Format" of COPY), written
/// and read by the adapters themselves over Npgsql's raw COPY stream. Npgsql's typed importer and
/// exporter cost a converter lookup, a parameter bind and an async state machine per value — at
/// 200,000 rows of six items that was most of a pull's or push's CPU. Here a value goes from the
/// Arrow buffer to the wire bytes (and back) with no object and no string in between; the server
/// still checks every value (range, encoding, the column's type modifier) as it does for
/// <c>psql \copy</c>.
/// </summary>
internal static class PostgresBinaryCopy
{
    /// <summary>"PGCOPY\n\377\r\n\0", then flags and header-extension length (both 0).</summary>
    public static ReadOnlySpan<byte> Header => [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>The signature alone (the first 11 bytes of <see cref="Header"/>).</summary>
    public static ReadOnlySpan<byte> Signature => Header[..11];

    /// <summary>PostgreSQL's epoch (2000-01-01) in Unix days and in Unix microseconds.</summary>
    public const int EpochDays = 10_957;

    public const long EpochMicroseconds = 946_684_800_000_000L;

    /// <summary>PostgreSQL's epoch in .NET ticks (for timestamps read).</summary>
    public const long EpochTicks = 630_822_816_000_000_000L;

    /// <summary>Type OIDs (pg_type) of the columns read without Npgsql's converters.</summary>
    public static class Oid
    {
        public const uint Bool = 16;
        public const uint Bytea = 17;
        public const uint Int8 = 20;
        public const uint Int4 = 23;
        public const uint Text = 25;
        public const uint Float8 = 701;
        public const uint Bpchar = 1042;
        public const uint Varchar = 1043;
        public const uint Date = 1082;
        public const uint Timestamp = 1114;
        public const uint TimestampTz = 1184;
        public const uint Numeric = 1700;
    }

    /// <summary>
    /// Makes a closed connection skip loading the server's type catalog when it opens
    /// (<c>Server Compatibility Mode=NoTypeLoading</c>), unless its connection string chose a mode:
    /// Npgsql otherwise reads all of pg_type on every new connection — a third of a 200k-row push's
    /// CPU here — while the binary COPY codec and the adapters' own statements use only built-in
    /// types. Returns the original connection string (to reopen with the catalog when a column of
    /// another type needs Npgsql's converters), or null when nothing was changed.
    /// </summary>
    /// <remarks>
    /// Npgsql 9 marked the connection-string form obsolete in favour of a data source builder; the
    /// adapters are handed a connection (the department's own string), so the string form it is —
    /// still supported in Npgsql 10; revisit when a major version removes it.
    /// </remarks>
#pragma warning disable CS0618 // ServerCompatibilityMode in the connection string: see remarks
    public static string? SkipTypeLoading(Npgsql.NpgsqlConnection connection)
    {
        var original = connection.ConnectionString;
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(original);
        if (builder.ServerCompatibilityMode != Npgsql.ServerCompatibilityMode.None)
        {
            return null;
        }

        builder.ServerCompatibilityMode = Npgsql.ServerCompatibilityMode.NoTypeLoading;
        connection.ConnectionString = builder.ConnectionString;
        return original;
    }
#pragma warning restore CS0618

    public static bool CanRead(uint oid) => oid is Oid.Bool or Oid.Bytea or Oid.Int8 or Oid.Int4 or Oid.Text or Oid.Float8 or Oid.Bpchar
        or Oid.Varchar or Oid.Date or Oid.Timestamp or Oid.TimestampTz or Oid.Numeric;
}

/// <summary>
/// Writes record batches as the rows of a binary COPY: the columns' PostgreSQL types are the ones
/// <see cref="SqlDialect.ColumnType"/> gives the items (text, integer, bigint, double precision,
/// boolean, date, timestamptz, numeric, bytea). Dates and timestamps are written as they are, the
/// first and last day included (Npgsql's converters turn <c>DateOnly.MinValue</c>/<c>MaxValue</c>
/// into ±infinity).
/// </summary>
internal sealed class PostgresCopyWriter(Stream copy)
{
    private const int FlushAt = 1 << 20;
    private readonly ArrayBufferWriter<byte> _buffer = new(FlushAt + (1 << 16));
    private bool _started;

    public async Task WriteAsync(RecordBatch batch, CancellationToken cancellation)
    {
        if (!_started)
        {
            _buffer.Write(PostgresBinaryCopy.Header);
            _started = true;
        }

        var columns = new IArrowArray[batch.ColumnCount];
        for (var c = 0; c < columns.Length; c++)
        {
            columns[c] = batch.Column(c);
        }

        var row = 0;
        while (row < batch.Length)
        {
            cancellation.ThrowIfCancellationRequested();
            row = WriteRows(columns, row, batch.Length);
            await FlushAsync(cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>The trailer (a field count of -1); the caller then ends the COPY.</summary>
    public async Task CompleteAsync(CancellationToken cancellation)
    {
        if (!_started)
        {
            _buffer.Write(PostgresBinaryCopy.Header);
            _started = true;
        }

        BinaryPrimitives.WriteInt16BigEndian(_buffer.GetSpan(2), -1);
        _buffer.Advance(2);
        await FlushAsync(cancellation).ConfigureAwait(false);
    }

    private async Task FlushAsync(CancellationToken cancellation)
    {
        if (_buffer.WrittenCount > 0)
        {
            await copy.WriteAsync(_buffer.WrittenMemory, cancellation).ConfigureAwait(false);
            _buffer.ResetWrittenCount();
        }
    }

    /// <summary>Encodes rows from <paramref name="from"/> until the buffer holds about a megabyte; returns the next row.</summary>
    private int WriteRows(IArrowArray[] columns, int from, int length)
    {
        var row = from;
        for (; row < length && _buffer.WrittenCount < FlushAt; row++)
        {
            BinaryPrimitives.WriteInt16BigEndian(_buffer.GetSpan(2), (short)columns.Length);
            _buffer.Advance(2);
            foreach (var column in columns)
            {
                WriteValue(column, row);
            }
        }

        return row;
    }

    private void WriteValue(IArrowArray array, int row)
    {
        if (array.IsNull(row))
        {
            Int32(-1);
            return;
        }

        switch (array)
        {
            case StringArray a: Bytes(a.GetBytes(row)); break;
            case Int32Array a: Int32(4); Int32(a.Values[row]); break;
            case Int64Array a: Int32(8); Int64(a.Values[row]); break;
            case DoubleArray a: Int32(8); Int64(BitConverter.DoubleToInt64Bits(a.Values[row])); break;
            case BooleanArray a:
                Int32(1);
                _buffer.GetSpan(1)[0] = a.GetValue(row)!.Value ? (byte)1 : (byte)0;
                _buffer.Advance(1);
                break;
            case Date32Array a: Int32(4); Int32(checked(a.Values[row] - PostgresBinaryCopy.EpochDays)); break;
            case TimestampArray a: Int32(8); Int64(checked(Microseconds(a, row) - PostgresBinaryCopy.EpochMicroseconds)); break;
            case Decimal128Array a: Numeric(a.GetBytes(row), ((Decimal128Type)a.Data.DataType).Scale); break;
            case BinaryArray a: Bytes(a.GetBytes(row)); break;
            default: throw new NotSupportedException($"Arrow type {array.Data.DataType.Name} is not an item type.");
        }
    }

    /// <summary>The instant in Unix microseconds, whatever the array's unit (the items' own is microseconds; finer is truncated as Npgsql did).</summary>
    private static long Microseconds(TimestampArray array, int row)
    {
        var value = array.Values[row];
        return ((TimestampType)array.Data.DataType).Unit switch
        {
            TimeUnit.Microsecond => value,
            TimeUnit.Millisecond => checked(value * 1_000),
            TimeUnit.Second => checked(value * 1_000_000),
            _ => value / 1_000,
        };
    }

    private void Bytes(ReadOnlySpan<byte> value)
    {
        Int32(value.Length);
        _buffer.Write(value);
    }

    private void Int32(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    private void Int64(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }

    /// <summary>
    /// A decimal128 (unscaled 128-bit two's complement, little-endian) as a PostgreSQL numeric:
    /// base-10000 digits aligned so the decimal point falls between two digits, weight = the power
    /// of 10000 of the first digit, zero digits at either end left out, display scale = the item's.
    /// </summary>
    private void Numeric(ReadOnlySpan<byte> unscaled, int scale)
    {
        var value = BinaryPrimitives.ReadInt128LittleEndian(unscaled);
        var negative = value < 0;
        var magnitude = negative ? (UInt128)(-(value + 1)) + 1 : (UInt128)value;

        // Pad the fraction to whole groups of four decimal digits.
        var pad = (4 - (scale % 4)) % 4;
        var fractionGroups = (scale + pad) / 4;
        Span<short> groups = stackalloc short[12]; // 10^41 < 10000^11: at most 11 groups, least significant first
        var count = 0;
        var factor = (UInt128)Pow10(pad);
        if (magnitude <= UInt128.MaxValue / factor)
        {
            var padded = magnitude * factor;
            while (padded != 0)
            {
                groups[count++] = (short)(ushort)(padded % 10_000);
                padded /= 10_000;
            }
        }
        else
        {
            var padded = (BigInteger)magnitude * (BigInteger)factor;
            while (!padded.IsZero)
            {
                padded = BigInteger.DivRem(padded, 10_000, out var group);
                groups[count++] = (short)group;
            }
        }

        // Least significant first: skip trailing zero groups (they change nothing).
        var low = 0;
        while (low < count && groups[low] == 0)
        {
            low++;
        }

        var digits = count - low;
        var weight = digits == 0 ? 0 : count - 1 - fractionGroups;
        Int32(8 + (2 * digits));
        var span = _buffer.GetSpan(8 + (2 * digits));
        BinaryPrimitives.WriteInt16BigEndian(span, (short)digits);
        BinaryPrimitives.WriteInt16BigEndian(span[2..], (short)weight);
        BinaryPrimitives.WriteInt16BigEndian(span[4..], digits == 0 || !negative ? (short)0 : (short)0x4000);
        BinaryPrimitives.WriteInt16BigEndian(span[6..], (short)scale);
        for (var i = 0; i < digits; i++)
        {
            BinaryPrimitives.WriteInt16BigEndian(span[(8 + (2 * i))..], groups[count - 1 - i]);
        }

        _buffer.Advance(8 + (2 * digits));
    }

    private static ulong Pow10(int exponent)
    {
        ulong result = 1;
        for (var i = 0; i < exponent; i++)
        {
            result *= 10;
        }

        return result;
    }
}

/// <summary>
/// Reads the rows of a binary COPY into a <see cref="RecordBatchAssembler"/>, each value decoded
/// from the wire bytes to the .NET type Npgsql's data reader gives for its column type (text →
/// UTF-8 bytes, int4 → int, numeric → decimal, timestamptz → UTC DateTime, timestamp → unspecified
/// DateTime, date → DateOnly, …) and handed to the typed append, so both read paths convert alike.
/// Only the types <see cref="PostgresBinaryCopy.CanRead"/> names are read here; a query with any
/// other column type goes through Npgsql's exporter.
/// </summary>
internal sealed class PostgresCopyReader(Stream copy, uint[] oids, int[] wanted, RecordBatchAssembler assembler)
{
    private byte[] _buffer = new byte[1 << 20];
    private int _start;
    private int _end;
    private bool _headerRead;
    private bool _finished;
    private bool _ended;
    private long _row;

    /// <summary>Fills the assembler until it is full or the data ends; false once the end was read (the assembler may still hold rows).</summary>
    public async Task<bool> ReadAsync(CancellationToken cancellation)
    {
        while (!_finished)
        {
            cancellation.ThrowIfCancellationRequested();
            var consumed = Parse(_buffer.AsSpan(_start, _end - _start));
            _start += consumed;
            if (_finished || assembler.IsFull)
            {
                break;
            }

            if (_ended)
            {
                throw new InvalidDataException("The binary COPY data ended in the middle of a row.");
            }

            // What is left is the start of a row (or header) that continues in the next bytes.
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                System.Array.Resize(ref _buffer, _buffer.Length * 2); // one row longer than the buffer
            }

            await FillAsync(cancellation).ConfigureAwait(false);
        }

        return !_finished;
    }

    /// <summary>
    /// Reads into the buffer what Npgsql already holds, waiting only for the first read. The raw COPY
    /// stream hands over one CopyData message a read, and PostgreSQL sends one a row: reading and
    /// parsing row by row cost an await and a parse pass a row. Here the reads that complete at once
    /// (the row is in Npgsql's buffer) go on until <see cref="Gather"/> bytes are in, so a parse
    /// pass takes hundreds of rows; a read that has to wait for the socket ends the gathering (the
    /// rows in hand are converted meanwhile, not held back).
    /// </summary>
    private async ValueTask FillAsync(CancellationToken cancellation)
    {
        var target = Math.Min(_buffer.Length, _end + Gather);
        var read = await copy.ReadAsync(_buffer.AsMemory(_end), cancellation).ConfigureAwait(false);
        while (read > 0)
        {
            _end += read;
            if (_end >= target)
            {
                return;
            }

            var next = copy.ReadAsync(_buffer.AsMemory(_end), cancellation);
            if (!next.IsCompletedSuccessfully)
            {
                // Must be awaited (a read in flight cannot be dropped); its bytes are parsed next pass.
                var late = await next.ConfigureAwait(false);
                _end += late;
                _ended = late == 0;
                return;
            }

            read = next.Result;
        }

        _ended = true;
    }

    /// <summary>Bytes gathered from Npgsql's buffer before a parse pass (see <see cref="FillAsync"/>).</summary>
    private const int Gather = 64 * 1024;

    /// <summary>Reads the header and whole rows from <paramref name="data"/>; returns the bytes consumed.</summary>
    private int Parse(ReadOnlySpan<byte> data)
    {
        var position = 0;
        if (!_headerRead)
        {
            if (data.Length < 19)
            {
                return 0;
            }

            if (!data[..11].SequenceEqual(PostgresBinaryCopy.Signature))
            {
                throw new InvalidDataException("Not PostgreSQL's binary COPY format.");
            }

            var extension = BinaryPrimitives.ReadInt32BigEndian(data[15..]);
            if (data.Length < 19 + extension)
            {
                return 0;
            }

            position = 19 + extension;
            _headerRead = true;
        }

        while (!assembler.IsFull)
        {
            var rest = data[position..];
            if (rest.Length < 2)
            {
                break;
            }

            var fields = BinaryPrimitives.ReadInt16BigEndian(rest);
            if (fields == -1)
            {
                _finished = true;
                return position + 2;
            }

            if (fields != oids.Length)
            {
                throw new InvalidDataException($"A binary COPY row has {fields} fields, the query {oids.Length}.");
            }

            var length = RowLength(rest);
            if (length < 0)
            {
                break;
            }

            ReadRow(rest[2..length]);
            position += length;
        }

        return position;
    }

    /// <summary>The row's length in bytes when it is all in <paramref name="rest"/>, else -1.</summary>
    private int RowLength(ReadOnlySpan<byte> rest)
    {
        var position = 2;
        for (var i = 0; i < oids.Length; i++)
        {
            if (rest.Length - position < 4)
            {
                return -1;
            }

            var length = BinaryPrimitives.ReadInt32BigEndian(rest[position..]);
            position += 4;
            if (length > 0)
            {
                if (rest.Length - position < length)
                {
                    return -1;
                }

                position += length;
            }
        }

        return position;
    }

    private void ReadRow(ReadOnlySpan<byte> row)
    {
        _row++;
        var position = 0;
        for (var i = 0; i < oids.Length; i++)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(row[position..]);
            position += 4;
            if (length < 0)
            {
                if (wanted[i] >= 0)
                {
                    assembler.AppendValue(_row, wanted[i], null);
                }

                continue;
            }

            var value = row.Slice(position, length);
            position += length;
            if (wanted[i] >= 0)
            {
                Append(wanted[i], oids[i], value);
            }
        }
    }

    private void Append(int column, uint oid, ReadOnlySpan<byte> value)
    {
        switch (oid)
        {
            case PostgresBinaryCopy.Oid.Text or PostgresBinaryCopy.Oid.Varchar or PostgresBinaryCopy.Oid.Bpchar:
                assembler.AppendUtf8(_row, column, value);
                break;
            case PostgresBinaryCopy.Oid.Int4:
                assembler.Append(_row, column, BinaryPrimitives.ReadInt32BigEndian(value));
                break;
            case PostgresBinaryCopy.Oid.Int8:
                assembler.Append(_row, column, BinaryPrimitives.ReadInt64BigEndian(value));
                break;
            case PostgresBinaryCopy.Oid.Float8:
                assembler.Append(_row, column, BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64BigEndian(value)));
                break;
            case PostgresBinaryCopy.Oid.Bool:
                assembler.Append(_row, column, value[0] != 0);
                break;
            case PostgresBinaryCopy.Oid.Bytea:
                assembler.AppendBytes(_row, column, value);
                break;
            case PostgresBinaryCopy.Oid.Date:
                Date(column, BinaryPrimitives.ReadInt32BigEndian(value));
                break;
            case PostgresBinaryCopy.Oid.Timestamp or PostgresBinaryCopy.Oid.TimestampTz:
                Timestamp(column, BinaryPrimitives.ReadInt64BigEndian(value), oid == PostgresBinaryCopy.Oid.TimestampTz ? DateTimeKind.Utc : DateTimeKind.Unspecified);
                break;
            case PostgresBinaryCopy.Oid.Numeric:
                Numeric(column, value);
                break;
            default:
                throw new InvalidOperationException($"Type OID {oid} is not read from binary COPY here.");
        }
    }

    /// <summary>Days since 2000-01-01; ±infinity become the first and last DateOnly, as Npgsql reads them.</summary>
    private void Date(int column, int days)
    {
        var value = days switch
        {
            int.MaxValue => DateOnly.MaxValue,
            int.MinValue => DateOnly.MinValue,
            _ => (long)days + PostgresBinaryCopy.EpochDays + DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber is var number and >= 0 and <= 3_652_058
                ? DateOnly.FromDayNumber((int)number)
                : (DateOnly?)null,
        };
        if (value is { } date)
        {
            assembler.Append(_row, column, date);
        }
        else
        {
            Fail(column, $"{days} days from 2000-01-01", "out of range (years 1 to 9999)");
        }
    }

    /// <summary>Microseconds since 2000-01-01; ±infinity become the first and last DateTime, as Npgsql reads them.</summary>
    private void Timestamp(int column, long microseconds, DateTimeKind kind)
    {
        DateTime? value = microseconds switch
        {
            long.MaxValue => DateTime.SpecifyKind(DateTime.MaxValue, kind),
            long.MinValue => DateTime.SpecifyKind(DateTime.MinValue, kind),
            >= (long.MinValue / 10) + 1 and <= long.MaxValue / 10 when (microseconds * 10) + PostgresBinaryCopy.EpochTicks is var ticks
                && ticks >= DateTime.MinValue.Ticks && ticks <= DateTime.MaxValue.Ticks => new DateTime(ticks, kind),
            _ => null,
        };
        if (value is { } instant)
        {
            assembler.Append(_row, column, instant);
        }
        else
        {
            Fail(column, $"{microseconds} µs from 2000-01-01", "out of range (years 1 to 9999)");
        }
    }

    /// <summary>
    /// A numeric as a .NET decimal with its display scale (1.50 keeps its two places), as Npgsql
    /// reads it; NaN, ±infinity and more than 28 digits are reported, not thrown.
    /// </summary>
    private void Numeric(int column, ReadOnlySpan<byte> value)
    {
        var digits = BinaryPrimitives.ReadInt16BigEndian(value);
        var weight = BinaryPrimitives.ReadInt16BigEndian(value[2..]);
        var sign = (ushort)BinaryPrimitives.ReadInt16BigEndian(value[4..]);
        var displayScale = BinaryPrimitives.ReadInt16BigEndian(value[6..]);
        if (sign is not (0x0000 or 0x4000))
        {
            Fail(column, sign == 0xC000 ? "NaN" : "Infinity", "not a number");
            return;
        }

        // value = Σ digit(i) · 10000^(weight − i) = (the digits as one integer) · 10^exponent; brought
        // to the display scale: value = integer · 10^(−scale). In 128 bits (two ulongs) when that
        // fits (always for up to 28 digits), else in a BigInteger (then only to report it as too
        // large). Not UInt128: ReadyToRun does not precompile methods that use it, and this one
        // runs per value.
        var exponent = 4 * (weight - digits + 1);
        var scale = (int)displayScale;
        var shift = exponent + scale;

        // Up to 19 significant digits (most numerics: a sum of money, a count): the integer at the
        // display scale in one ulong, handed over as it is, no decimal made.
        if (digits <= 4 && scale is >= 0 and <= 28 && shift <= 19 - (4 * digits) && shift >= -19)
        {
            ulong magnitude = 0;
            for (var i = 0; i < digits; i++)
            {
                magnitude = (magnitude * 10_000) + (ushort)BinaryPrimitives.ReadInt16BigEndian(value[(8 + (2 * i))..]);
            }

            magnitude = shift >= 0 ? magnitude * Powers[shift] : magnitude / Powers[-shift];
            assembler.Append(_row, column, magnitude, scale, sign == 0x4000);
            return;
        }

        ulong high = 0, low = 0;
        var fits = digits <= 9 && shift is >= -38 and <= 38; // 10000^9 = 10^36 < 2^128
        for (var i = 0; fits && i < digits; i++)
        {
            fits = MultiplyAdd(ref high, ref low, 10_000, (ushort)BinaryPrimitives.ReadInt16BigEndian(value[(8 + (2 * i))..]));
        }

        for (var pad = shift; fits && pad > 0; pad -= 19)
        {
            fits = MultiplyAdd(ref high, ref low, Powers[Math.Min(pad, 19)], 0);
        }

        for (var cut = -shift; fits && cut > 0; cut -= 9)
        {
            Divide(ref high, ref low, (uint)Powers[Math.Min(cut, 9)]);
        }

        if (!fits || scale > 28 || high >> 32 != 0)
        {
            Fail(column, Text(value, digits, shift, sign), "has more digits than a decimal holds (28)");
            return;
        }

        assembler.Append(_row, column, new decimal((int)(uint)low, (int)(uint)(low >> 32), (int)(uint)high, sign == 0x4000, (byte)scale));
    }

    /// <summary>10^n for n = 0..19, the powers of ten a ulong holds.</summary>
    private static readonly ulong[] Powers = [.. Enumerable.Range(0, 20).Select(n => Enumerable.Repeat(10UL, n).Aggregate(1UL, (a, b) => a * b))];

    /// <summary>(high, low) = (high, low) · factor + add; false when that overflows 128 bits.</summary>
    private static bool MultiplyAdd(ref ulong high, ref ulong low, ulong factor, ulong add)
    {
        var carry = Math.BigMul(low, factor, out var newLow);
        var over = Math.BigMul(high, factor, out var newHigh);
        newLow += add;
        carry += newLow < add ? 1UL : 0UL;
        newHigh += carry;
        if (over != 0 || newHigh < carry)
        {
            return false;
        }

        (high, low) = (newHigh, newLow);
        return true;
    }

    /// <summary>(high, low) = (high, low) / divisor, by 32-bit limbs (the remainder is dropped: it is zero in a valid numeric).</summary>
    private static void Divide(ref ulong high, ref ulong low, uint divisor)
    {
        ulong remainder = 0;
        ulong Limb(ulong limb)
        {
            var current = (remainder << 32) | limb;
            remainder = current % divisor;
            return current / divisor;
        }

        var h1 = Limb(high >> 32);
        var h0 = Limb(high & 0xFFFF_FFFF);
        var l1 = Limb(low >> 32);
        var l0 = Limb(low & 0xFFFF_FFFF);
        (high, low) = ((h1 << 32) | h0, (l1 << 32) | l0);
    }

    /// <summary>A numeric too large for a decimal, as text for the error list (rare: no fast path needed).</summary>
    private static string Text(ReadOnlySpan<byte> value, int digits, int shift, ushort sign)
    {
        var integer = BigInteger.Zero;
        for (var i = 0; i < digits; i++)
        {
            integer = (integer * 10_000) + (ushort)BinaryPrimitives.ReadInt16BigEndian(value[(8 + (2 * i))..]);
        }

        integer = shift >= 0 ? integer * BigInteger.Pow(10, shift) : integer / BigInteger.Pow(10, -shift);
        var scale = Math.Max(0, (int)BinaryPrimitives.ReadInt16BigEndian(value[6..]));
        var text = integer.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(scale + 1, '0');
        text = scale == 0 ? text : text[..^scale] + "." + text[^scale..];
        return sign == 0x4000 ? "-" + text : text;
    }

    private void Fail(int column, string text, string why)
    {
        assembler.AppendValue(_row, column, null);
        assembler.Fail(_row, column, text, why);
    }
}
