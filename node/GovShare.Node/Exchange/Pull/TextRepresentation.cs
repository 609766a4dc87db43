using System.Globalization;
using System.Text;
using System.Text.Json;
using Apache.Arrow;

namespace GovShare.Node.Exchange.Pull;

/// <summary>
/// Writes pulled record batches as JSON (an array of objects) or CSV (UTF-8 with BOM, header row,
/// RFC 4180 quoting, spreadsheet formula injection neutralised) for small results. The batches
/// have already passed authorisation and masking: this is only a different spelling of the same
/// columns, streamed batch by batch.
/// </summary>
internal sealed class TextRepresentation : IAsyncDisposable
{
    public const string Json = "application/json";
    public const string Csv = "text/csv";
    private readonly Stream _output;
    private readonly Schema _schema;
    private readonly bool _csv;
    private readonly Utf8JsonWriter? _json;
    private readonly StringBuilder _line = new();

    private TextRepresentation(Stream output, Schema schema, bool csv)
    {
        _output = output;
        _schema = schema;
        _csv = csv;
        if (!csv)
        {
            _json = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        }
    }

    public static async Task<TextRepresentation> StartAsync(Stream output, Schema schema, bool csv, CancellationToken cancellation)
    {
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
        for (var row = 0; row < batch.Length; row++)
        {
            if (_csv)
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
            else
            {
                _json!.WriteStartObject();
                for (var c = 0; c < batch.ColumnCount; c++)
                {
                    _json.WritePropertyName(_schema.GetFieldByIndex(c).Name);
                    WriteJson(_json, Value(batch.Column(c), row));
                }

                _json.WriteEndObject();
                if (_json.BytesPending > 64 * 1024)
                {
                    await _json.FlushAsync(cancellation);
                }
            }
        }

        if (_csv)
        {
            await FlushLineAsync(cancellation);
        }
        else
        {
            await _json!.FlushAsync(cancellation);
        }
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
    internal static object? Value(IArrowArray array, int row)
    {
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

    private static void WriteJson(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null: json.WriteNullValue(); break;
            case string s: json.WriteStringValue(s); break;
            case int i: json.WriteNumberValue(i); break;
            case long l: json.WriteNumberValue(l); break;
            case double d when double.IsFinite(d): json.WriteNumberValue(d); break;
            case double d: json.WriteStringValue(d.ToString(CultureInfo.InvariantCulture)); break;
            case bool b: json.WriteBooleanValue(b); break;
            default: json.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture)); break;
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
