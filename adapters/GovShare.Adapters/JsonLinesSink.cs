using System.Text.Json;
using Apache.Arrow;

namespace GovShare.Adapters;

/// <summary>
/// Writes record batches as JSON lines, one object per row keyed by item name. Decimals are
/// written as strings so no reader turns them into binary floating point; dates as yyyy-MM-dd,
/// timestamps as ISO 8601 UTC, binary as base64.
/// </summary>
public sealed class JsonLinesSink(string path) : IRecordSink
{
    public async Task<long> WriteAsync(IAsyncEnumerable<RecordBatch> batches, CancellationToken cancellation = default)
    {
        var temporary = path + ".partial";
        try
        {
            long rows;
            await using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                rows = await WriteAsync(stream, batches, cancellation).ConfigureAwait(false);
            }

            File.Move(temporary, path, overwrite: true);
            return rows;
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    public static async Task<long> WriteAsync(Stream stream, IAsyncEnumerable<RecordBatch> batches, CancellationToken cancellation = default)
    {
        long rows = 0;
        await using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        await foreach (var batch in batches.WithCancellation(cancellation).ConfigureAwait(false))
        {
            for (var r = 0; r < batch.Length; r++)
            {
                json.WriteStartObject();
                for (var c = 0; c < batch.ColumnCount; c++)
                {
                    json.WritePropertyName(batch.Schema.GetFieldByIndex(c).Name);
                    switch (ArrowValues.Get(batch.Column(c), r))
                    {
                        case null: json.WriteNullValue(); break;
                        case int i: json.WriteNumberValue(i); break;
                        case long l: json.WriteNumberValue(l); break;
                        case double d when double.IsFinite(d): json.WriteNumberValue(d); break;
                        case bool b: json.WriteBooleanValue(b); break;
                        default: json.WriteStringValue(ArrowValues.GetText(batch.Column(c), r)); break;
                    }
                }

                json.WriteEndObject();
                await json.FlushAsync(cancellation).ConfigureAwait(false);
                stream.WriteByte((byte)'\n');
                // One writer, many top-level values: a line is a whole JSON document, so the writer starts afresh.
                json.Reset();
            }

            rows += batch.Length;
        }

        return rows;
    }
}
