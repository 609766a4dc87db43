using System.Runtime.CompilerServices;
using System.Text.Json;
using Apache.Arrow;

namespace GovShare.Adapters;

/// <summary>
/// JSON lines (one object per line, UTF-8) read as record batches. Object keys are the source
/// columns; a missing key is a null. Without a mapping, the first object's keys are utf8 items.
/// </summary>
public sealed class JsonLinesSource(string path, ItemMapping? mapping = null, ReadOptions? options = null) : IRecordSource
{
    public async IAsyncEnumerable<RecordBatch> ReadAsync([EnumeratorCancellation] CancellationToken cancellation = default)
    {
        using var text = new StreamReader(path, TextEncodings.StrictUtf8, detectEncodingFromByteOrderMarks: true);
        ItemMapping? map = mapping;
        RecordBatchAssembler? assembler = map is null ? null : new RecordBatchAssembler(map, options ?? ReadOptions.Default);
        long row = 0;
        var yielded = false;
        string? line;
        while ((line = await text.ReadLineAsync(cancellation)) is not null)
        {
            row++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(line);
            }
            catch (JsonException ex)
            {
                assembler ??= new RecordBatchAssembler(map ??= new ItemMapping([]), options ?? ReadOptions.Default);
                assembler.RowError(row, "(line)", line, $"not valid JSON: {ex.Message}");
                continue;
            }

            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    assembler ??= new RecordBatchAssembler(map ??= new ItemMapping([]), options ?? ReadOptions.Default);
                    assembler.RowError(row, "(line)", line, "not a JSON object");
                    continue;
                }

                if (map is null)
                {
                    map = ItemMapping.AllText(root.EnumerateObject().Select(p => p.Name));
                    assembler = new RecordBatchAssembler(map, options ?? ReadOptions.Default);
                }

                for (var c = 0; c < map.Columns.Count; c++)
                {
                    if (!root.TryGetProperty(map.Columns[c].Column, out var value))
                    {
                        assembler!.AppendText(row, c, null);
                        continue;
                    }

                    switch (value.ValueKind)
                    {
                        case JsonValueKind.Null:
                            assembler!.AppendText(row, c, null);
                            break;
                        case JsonValueKind.String:
                            assembler!.AppendText(row, c, value.GetString());
                            break;
                        case JsonValueKind.Number:
                            assembler!.AppendText(row, c, value.GetRawText());
                            break;
                        case JsonValueKind.True or JsonValueKind.False:
                            assembler!.AppendValue(row, c, value.GetBoolean());
                            break;
                        default:
                            assembler!.RowError(row, map.Columns[c].Column, value.GetRawText(), "a nested object or array is not an item value");
                            assembler.AppendText(row, c, null);
                            break;
                    }
                }
            }

            if (assembler!.IsFull && assembler.Flush() is { } batch)
            {
                yielded = true;
                yield return batch;
            }
        }

        if (assembler is null)
        {
            throw new MappingException(path, ["The file has no JSON object to take the columns from; give a mapping."]);
        }

        var last = assembler.Flush();
        assembler.Errors.ThrowIfAny();
        if (last is { Length: > 0 } || !yielded)
        {
            yield return last!;
        }
    }
}
