using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Apache.Arrow;

namespace GovShare.Node.Exchange.Pull;

/// <summary>
/// Writes pulled record batches as JSON (an array of objects) or CSV (UTF-8 with BOM, header row,
/// RFC 4180 quoting, spreadsheet formula injection neutralised) for small results. The batches
/// have already passed authorisation and masking: this is only a different spelling of the same
/// columns, streamed batch by batch. Public for the micro-benchmarks (JsonRepresentationBenchmarks).
/// </summary>
public sealed class TextRepresentation : IAsyncDisposable
{
    public const string Json = "application/json";
    public const string Csv = "text/csv";
    private readonly Stream _output;
    private readonly bool _csv;
    private static readonly JavaScriptEncoder JsonEncoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
    private readonly Utf8JsonWriter? _json;
    private readonly JsonEncodedText[] _names = [];
    private readonly StringBuilder _line = new();

    private TextRepresentation(Stream output, Schema schema, bool csv)
    {
        _output = output;
        _csv = csv;
        if (!csv)
        {
            // SkipValidation: the structure below is fixed (array of flat objects, a name before
            // every value), so the writer's per-token state checks guard nothing here. Values are
            // still escaped and UTF-8-checked by the writer.
            _json = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = JsonEncoder, SkipValidation = true });
            // Escaped once per pull, not once per row (the same bytes WritePropertyName(string) writes).
            _names = [.. schema.FieldsList.Select(f => JsonEncodedText.Encode(f.Name, JsonEncoder))];
        }
    }

    public static async Task<TextRepresentation> StartAsync(Stream output, Schema schema, bool csv, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(schema);
        var writer = new TextRepresentation(output, schema, csv);
        if (csv)
        {
            writer._line.Append('\uFEFF');
            writer._line.AppendJoin(',', schema.FieldsList.Select(f => Quote(f.Name)));
            writer._line.Append("\r\n");
            await writer.FlushLineAsync(cancellation);
        }
        else
        {
            writer._json!.WriteStartArray();
        }

        return writer;
    }

    public async Task WriteAsync(RecordBatch batch, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (!_csv)
        {
            await WriteJsonAsync(batch, cancellation);
            return;
        }

        for (var row = 0; row < batch.Length; row++)
        {
            for (var c = 0; c < batch.ColumnCount; c++)
            {
                if (c > 0)
                {
                    _line.Append(',');
                }

                var value = Value(batch.Column(c), row);
                _line.Append(value switch
                {
                    null => "",
                    string text => Quote(text),
                    _ => Convert.ToString(value, CultureInfo.InvariantCulture),
                });
            }

            _line.Append("\r\n");
            if (_line.Length > 64 * 1024)
            {
                await FlushLineAsync(cancellation);
            }
        }

        await FlushLineAsync(cancellation);
    }

    /// <summary>
    /// JSON straight from the Arrow arrays: each column's values are written by a writer for its
    /// type (text as its stored UTF-8 bytes, numbers as numbers), so no cell is boxed or turned
    /// into a .NET string on the way. The output is byte for byte what <see cref="Value"/> and
    /// <c>WriteJson</c> wrote before (TextRepresentationTests compares them).
    /// </summary>
    private async Task WriteJsonAsync(RecordBatch batch, CancellationToken cancellation)
    {
        var json = _json!;
        var columns = new JsonColumn[batch.ColumnCount];
        for (var c = 0; c < columns.Length; c++)
        {
            columns[c] = JsonColumn.For(batch.Column(c));
        }

        var row = 0;
        while (row < batch.Length)
        {
            // Rows are written synchronously into the writer's buffer, 64 KiB at a time; only the
            // flush awaits (the span-based writes cannot cross an await).
            row = WriteJsonRows(json, columns, row, batch.Length);
            await json.FlushAsync(cancellation);
        }
    }

    private int WriteJsonRows(Utf8JsonWriter json, JsonColumn[] columns, int row, int end)
    {
        var names = _names;
        for (; row < end && json.BytesPending <= 64 * 1024; row++)
        {
            json.WriteStartObject();
            for (var c = 0; c < columns.Length; c++)
            {
                json.WritePropertyName(names[c]);
                columns[c].Write(json, row);
            }

            json.WriteEndObject();
        }

        return row;
    }

    public async Task EndAsync(CancellationToken cancellation)
    {
        if (!_csv)
        {
            _json!.WriteEndArray();
            await _json.FlushAsync(cancellation);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_json is not null)
        {
            await _json.DisposeAsync();
        }
    }

    /// <summary>A cell's value as a JSON-friendly .NET value: text for dates, decimals and binary.</summary>
    public static object? Value(IArrowArray array, int row)
    {
        ArgumentNullException.ThrowIfNull(array);
        if (array.IsNull(row))
        {
            return null;
        }

        return array switch
        {
            StringArray s => s.GetString(row),
            Int32Array i => i.GetValue(row),
            Int64Array l => l.GetValue(row),
            DoubleArray d => d.GetValue(row),
            BooleanArray b => b.GetValue(row),
            Date32Array d => d.GetDateOnly(row)?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            TimestampArray t => t.GetTimestamp(row)?.ToString("O", CultureInfo.InvariantCulture),
            Decimal128Array m => m.GetSqlDecimal(row)?.ToString(),
            BinaryArray b => Convert.ToBase64String(b.GetBytes(row)),
            _ => throw new NotSupportedException($"No text form for Arrow type {array.Data.DataType.Name}."),
        };
    }

    /// <summary>One column's JSON values, by Arrow type (the types the batch validator admits).</summary>
    private abstract class JsonColumn
    {
        public static JsonColumn For(IArrowArray array) => array switch
        {
            StringArray s => new Utf8Column(s),
            Int32Array i => new Int32Column(i),
            Int64Array l => new Int64Column(l),
            DoubleArray d => new DoubleColumn(d),
            BooleanArray b => new BooleanColumn(b),
            Date32Array d => new Date32Column(d),
            TimestampArray t => new TimestampColumn(t),
            Decimal128Array m => new Decimal128Column(m),
            BinaryArray b => new BinaryColumn(b),
            _ => new UnsupportedColumn(array),
        };

        public abstract void Write(Utf8JsonWriter json, int row);
    }

    private sealed class Utf8Column(StringArray array) : JsonColumn
    {
        public override void Write(Utf8JsonWriter json, int row)
        {
            if (array.IsNull(row))
            {
                json.WriteNullValue();
            }
            else
            {
                json.WriteStringValue(array.GetBytes(row));
            }
        }
    }

    private sealed class Int32Column(Int32Array array) : JsonColumn
    {
        public override void Write(Utf8JsonWriter json, int row)
        {
            if (array.IsNull(row))
            {
                json.WriteNullValue();
            }
            else
            {
                json.WriteNumberValue(array.Values[row]);
            }
        }
    }

    private sealed class Int64Column(Int64Array array) : JsonColumn
    {
        public override void Write(Utf8JsonWriter json, int row)
        {
            if (array.IsNull(row))
            {
                json.WriteNullValue();
            }
            else
            {
                json.WriteNumberValue(array.Values[row]);
            }
        }
    }

    private sealed class DoubleColumn(DoubleArray array) : JsonColumn
    {
        public override void Write(Utf8JsonWriter json, int row)
        {
            if (array.IsNull(row))
            {
                json.WriteNullValue();
                return;
            }

            var value = array.Values[row];
            if (double.IsFinite(value))
            {
                json.WriteNumberValue(value);
            }
            else
            {
                // JSON has no NaN or infinity: their invariant names, as text ("NaN", "Infinity", "-Infinity").
                json.WriteStringValue(value.ToString(CultureInfo.InvariantCulture));
            }
        }
    }

    private sealed class BooleanColumn(BooleanArray array) : JsonColumn
    {
        public override void Write(Utf8JsonWriter json, int row)
        {
            if (array.GetValue(row) is { } value)
            {
                json.WriteBooleanValue(value);
            }
            else
            {
                json.WriteNullValue();
            }
        }
    }

    private sealed class Date32Column(Date32Array array) : JsonColumn
    {
        private static readonly int EpochDay = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

        public override void Write(Utf8JsonWriter json, int row)
        {
            if (array.IsNull(row))
            {
                json.WriteNullValue();
                return;
            }

            // yyyy-MM-dd, as DateOnly.ToString("yyyy-MM-dd", InvariantCulture) spells it; a day
            // outside DateOnly's range throws as it did (the push's date-range rule keeps them out).
            var date = DateOnly.FromDayNumber(EpochDay + array.Values[row]);
            Span<byte> text = stackalloc byte[10];
            Digits(text[..4], date.Year);
            text[4] = (byte)'-';
            Digits(text.Slice(5, 2), date.Month);
            text[7] = (byte)'-';
            Digits(text.Slice(8, 2), date.Day);
            json.WriteStringValue(text);
        }

        private static void Digits(Span<byte> into, int value)
        {
            for (var i = into.Length - 1; i >= 0; i--)
            {
                into[i] = (byte)('0' + (value % 10));
                value /= 10;
            }
        }
    }

    private sealed class TimestampColumn(TimestampArray array) : JsonColumn
    {
        public override void Write(Utf8JsonWriter json, int row)
        {
            if (array.GetTimestamp(row) is not { } value)
            {
                json.WriteNullValue();
                return;
            }

            // The round-trip form ("O"), written as UTF-8 without a string in between.
            Span<byte> text = stackalloc byte[64];
            if (!value.TryFormat(text, out var written, "O", CultureInfo.InvariantCulture))
            {
                throw new InvalidOperationException("A timestamp's round-trip form did not fit 64 bytes.");
            }

            json.WriteStringValue(text[..written]);
        }
    }

    private sealed class Decimal128Column(Decimal128Array array) : JsonColumn
    {
        // SqlDecimal's text (scale kept, up to 38 digits): rare enough to keep its string.
        public override void Write(Utf8JsonWriter json, int row)
        {
            if (array.GetSqlDecimal(row) is { } value)
            {
                json.WriteStringValue(value.ToString());
            }
            else
            {
                json.WriteNullValue();
            }
        }
    }

    private sealed class BinaryColumn(BinaryArray array) : JsonColumn
    {
        // Standard Base64 with padding, as Convert.ToBase64String spells it.
        public override void Write(Utf8JsonWriter json, int row)
        {
            if (array.IsNull(row))
            {
                json.WriteNullValue();
            }
            else
            {
                json.WriteBase64StringValue(array.GetBytes(row));
            }
        }
    }

    private sealed class UnsupportedColumn(IArrowArray array) : JsonColumn
    {
        public override void Write(Utf8JsonWriter json, int row)
        {
            if (!array.IsNull(row))
            {
                throw new NotSupportedException($"No text form for Arrow type {array.Data.DataType.Name}.");
            }

            json.WriteNullValue();
        }
    }

    /// <summary>RFC 4180 quoting; a leading = + - @ tab or CR gets a ' so spreadsheets never run it as a formula.</summary>
    private static string Quote(string text)
    {
        if (text.Length > 0 && text[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            text = "'" + text;
        }

        return text.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : text;
    }

    private async Task FlushLineAsync(CancellationToken cancellation)
    {
        var bytes = Encoding.UTF8.GetBytes(_line.ToString());
        _line.Clear();
        await _output.WriteAsync(bytes, cancellation);
    }
}
