using System.Globalization;
using System.Text;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace GovShare.Adapters;

/// <summary>
/// Writes record batches as RFC 4180 CSV: a header row of item names, CRLF line ends, fields
/// quoted when they hold a comma, quote or line break. A null is an empty field, an empty string
/// is <c>""</c>, so the CSV reader gives back what was written.
/// </summary>
/// <remarks>
/// Spreadsheet-safe by default: a text value beginning with <c>= + - @</c>, tab or carriage return
/// would run as a formula in Excel or WPS (CSV injection), so it is written with a leading
/// apostrophe. Numbers are typed items and never prefixed. UTF-8 is written with a BOM so
/// spreadsheets show Chinese text correctly.
/// </remarks>
/// <param name="path">The file to write (through <c>path.partial</c>, renamed at the end).</param>
/// <param name="encoding">UTF-8 with BOM when null.</param>
/// <param name="spreadsheetSafe">Guard text that a spreadsheet would run as a formula.</param>
/// <param name="delimiter">The field delimiter.</param>
/// <param name="timeOffset">The offset timestamps are written at (with it, e.g. <c>+08:00</c>); UTC (<c>Z</c>) when null.</param>
/// <param name="timestampFormat">A .NET custom format for timestamps (at <paramref name="timeOffset"/>), e.g. <c>yyyy-MM-dd HH:mm:ss</c>; null: ISO 8601 with microseconds and the offset (or <c>Z</c>).</param>
/// <param name="dateFormat">A .NET custom format for dates, e.g. <c>yyyy/MM/dd</c>; null: <c>yyyy-MM-dd</c>.</param>
public sealed class CsvSink(string path, Encoding? encoding = null, bool spreadsheetSafe = true, char delimiter = ',', TimeSpan? timeOffset = null, string? timestampFormat = null, string? dateFormat = null) : IRecordSink
{
    public async Task<long> WriteAsync(IAsyncEnumerable<RecordBatch> batches, CancellationToken cancellation = default)
    {
        var temporary = path + ".partial";
        long rows = 0;
        try
        {
            await using (var writer = new StreamWriter(temporary, false, encoding ?? new UTF8Encoding(encoderShouldEmitUTF8Identifier: true)))
            {
                rows = await WriteAsync(writer, batches, cancellation).ConfigureAwait(false);
            }

            File.Move(temporary, path, overwrite: true);
            return rows;
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Writes CSV text to <paramref name="writer"/> (the header once, then every row).</summary>
    public async Task<long> WriteAsync(TextWriter writer, IAsyncEnumerable<RecordBatch> batches, CancellationToken cancellation = default)
    {
        long rows = 0;
        var header = false;
        var line = new StringBuilder();
        await foreach (var batch in batches.WithCancellation(cancellation).ConfigureAwait(false))
        {
            if (!header)
            {
                await writer.WriteAsync(string.Join(delimiter, batch.Schema.FieldsList.Select(f => Field(f.Name, text: true)))).ConfigureAwait(false);
                await writer.WriteAsync("\r\n").ConfigureAwait(false);
                header = true;
            }

            var text = batch.Schema.FieldsList.Select(f => f.DataType is StringType).ToArray();
            for (var r = 0; r < batch.Length; r++)
            {
                line.Clear();
                for (var c = 0; c < batch.ColumnCount; c++)
                {
                    if (c > 0)
                    {
                        line.Append(delimiter);
                    }

                    line.Append(Field(Text(batch.Column(c), r), text[c]));
                }

                line.Append("\r\n");
                await writer.WriteAsync(line, cancellation).ConfigureAwait(false);
            }

            rows += batch.Length;
        }

        return rows;
    }

    private string? Text(IArrowArray column, int row) => column switch
    {
        TimestampArray when timestampFormat is not null && ArrowValues.Get(column, row) is DateTimeOffset t =>
            t.ToOffset(timeOffset ?? TimeSpan.Zero).ToString(timestampFormat, CultureInfo.InvariantCulture),
        Date32Array when dateFormat is not null && ArrowValues.Get(column, row) is DateOnly d => d.ToString(dateFormat, CultureInfo.InvariantCulture),
        _ => ArrowValues.GetText(column, row, timeOffset),
    };

    private string Field(string? value, bool text)
    {
        if (value is null)
        {
            return "";
        }

        if (value.Length == 0)
        {
            return "\"\"";
        }

        if (spreadsheetSafe && text && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            value = "'" + value;
        }

        var quote = value.Contains(delimiter, StringComparison.Ordinal) || value.Contains('"', StringComparison.Ordinal)
            || value.Contains('\n', StringComparison.Ordinal) || value.Contains('\r', StringComparison.Ordinal)
            || value[0] == ' ' || value[^1] == ' ';
        return quote ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }
}
