using System.Runtime.CompilerServices;
using System.Text;
using Apache.Arrow;

namespace GovShare.Adapters;

/// <summary>
/// A CSV file with a header row, read as record batches. The header names the source columns;
/// the mapping picks and types them (without one, every column is a utf8 item of the same name).
/// </summary>
public sealed class CsvSource(string path, ItemMapping? mapping = null, Encoding? encoding = null, ReadOptions? options = null, char delimiter = ',') : IRecordSource
{
    /// <summary>The encoding the file is read with: the one given, or the detected one.</summary>
    public Encoding Encoding { get; } = encoding ?? TextEncodings.Detect(path);

    public async IAsyncEnumerable<RecordBatch> ReadAsync([EnumeratorCancellation] CancellationToken cancellation = default)
    {
        using var text = new StreamReader(path, Encoding, detectEncodingFromByteOrderMarks: Encoding is UTF8Encoding, new FileStreamOptions { BufferSize = 1 << 16 });
        var reader = new CsvRecordReader(text, delimiter);
        var fields = new List<string?>();
        if (!Read(reader, fields))
        {
            throw new MappingException(path, ["The file is empty: a header row naming the columns is needed."]);
        }

        var header = fields.Select(f => (f ?? "").Trim()).ToList();
        var map = mapping ?? ItemMapping.AllText(header);
        var ordinals = Ordinals(header, map, path);
        var assembler = new RecordBatchAssembler(map, options ?? ReadOptions.Default);
        long row = 0;
        var yielded = false;
        while (Read(reader))
        {
            row++;
            if (reader.FieldCount == 1 && reader.IsNull(0))
            {
                continue; // A blank line: no row, but counted so numbers match the spreadsheet.
            }

            if (reader.FieldCount != header.Count)
            {
                assembler.RowError(row, "(row)", string.Join(",", Enumerable.Range(0, reader.FieldCount).Select(reader.FieldText)), $"has {reader.FieldCount} field(s); the header has {header.Count}");
                for (var c = 0; c < ordinals.Length; c++)
                {
                    assembler.AppendText(row, c, null);
                }
            }
            else
            {
                // Each cell is converted from its span of the reader's buffer: a string is made only
                // for a text item or an error's report.
                for (var c = 0; c < ordinals.Length; c++)
                {
                    if (reader.IsNull(ordinals[c]))
                    {
                        assembler.AppendText(row, c, null);
                    }
                    else
                    {
                        assembler.AppendChars(row, c, reader.Field(ordinals[c]));
                    }
                }
            }

            if (assembler.IsFull && assembler.Flush() is { } batch)
            {
                yielded = true;
                yield return batch;
            }

            if ((row & 0x3FFF) == 0)
            {
                if (text.BaseStream.CanSeek)
                {
                    options?.BytesRead?.Report(text.BaseStream.Position);
                }

                cancellation.ThrowIfCancellationRequested();
                await Task.Yield();
            }
        }

        var last = assembler.Flush();
        assembler.Errors.ThrowIfAny();
        if (last is { Length: > 0 } || !yielded)
        {
            yield return last!;
        }
    }

    internal static int[] Ordinals(IReadOnlyList<string> header, ItemMapping map, string source)
    {
        var missing = map.Columns.Where(c => !header.Contains(c.Column, StringComparer.Ordinal)).Select(c => $"Column '{c.Column}' is not in the source (it has: {string.Join(", ", header)}).").ToList();
        if (missing.Count > 0)
        {
            throw new MappingException(source, missing);
        }

        return map.Columns.Select(c => header.ToList().IndexOf(c.Column)).ToArray();
    }

    private bool Read(CsvRecordReader reader, List<string?>? fields = null)
    {
        try
        {
            return fields is null ? reader.TryRead() : reader.TryRead(fields);
        }
        catch (DecoderFallbackException ex)
        {
            throw new InvalidDataException($"'{path}' is not valid {Encoding.WebName} after line {reader.Line:N0}; give its encoding (--encoding gb18030 or utf-8).", ex);
        }
        catch (FormatException ex)
        {
            throw new InvalidDataException($"'{path}': {ex.Message}", ex);
        }
    }
}
