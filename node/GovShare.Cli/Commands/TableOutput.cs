using System.Globalization;
using System.Text;
using System.Text.Json;

namespace GovShare.Cli.Commands;

/// <summary>One column of a table: its heading and the JSON path (dotted) of its value in each row.</summary>
internal sealed record TableColumn(string Heading, string Path);

/// <summary>
/// How a command's JSON answer reads as tables: the sections (a property holding an array, or
/// <c>""</c> for the answer itself) and their columns. <c>--json</c> prints the answer as is, for scripts.
/// </summary>
internal sealed record TableSpec(IReadOnlyList<(string Title, string Property, IReadOnlyList<TableColumn> Columns)> Sections)
{
    public static TableSpec Of(string property, params TableColumn[] columns) => new([("", property, columns)]);
}

/// <summary>
/// Prints rows as an aligned text table, as psql does: CJK characters take two columns on a
/// terminal, so widths are counted in display columns, not characters.
/// </summary>
internal static class TableOutput
{
    public static void Print(TextWriter output, JsonElement answer, TableSpec spec)
    {
        foreach (var (title, property, columns) in spec.Sections)
        {
            var rows = property.Length == 0 ? answer : answer.ValueKind == JsonValueKind.Object && answer.TryGetProperty(property, out var value) ? value : default;
            // A section may also be one object (e.g. the inbox's certificate notice), or null for none.
            var list = rows.ValueKind == JsonValueKind.Array ? rows.EnumerateArray().ToList() : rows.ValueKind == JsonValueKind.Object && property.Length > 0 ? [rows] : [];
            if (title.Length > 0)
            {
                output.WriteLine($"{title} ({list.Count})");
            }

            if (list.Count == 0)
            {
                output.WriteLine(title.Length > 0 ? "  (none)" : "(no rows)");
                output.WriteLine();
                continue;
            }

            var cells = list.Select(row => columns.Select(c => Cell(row, c.Path)).ToArray()).ToList();
            var widths = columns.Select((c, i) => Math.Max(Width(c.Heading), cells.Max(r => Width(r[i])))).ToArray();
            output.WriteLine(Line(columns.Select(c => c.Heading).ToArray(), widths));
            output.WriteLine(string.Join("-+-", widths.Select(w => new string('-', w))));
            foreach (var row in cells)
            {
                output.WriteLine(Line(row, widths));
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"({list.Count} row{(list.Count == 1 ? "" : "s")})"));
            output.WriteLine();
        }
    }

    private static string Line(string[] cells, int[] widths)
    {
        var line = new StringBuilder();
        for (var i = 0; i < cells.Length; i++)
        {
            line.Append(i == 0 ? "" : " | ").Append(cells[i]).Append(' ', widths[i] - Width(cells[i]));
        }

        return line.ToString().TrimEnd();
    }

    /// <summary>A value at a dotted path; arrays are joined with commas, objects shown as JSON.</summary>
    private static string Cell(JsonElement row, string path)
    {
        var value = row;
        foreach (var part in path.Split('.'))
        {
            if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty(part, out value))
            {
                return "";
            }
        }

        var text = value.ValueKind switch
        {
            JsonValueKind.String => value.GetString() ?? "",
            JsonValueKind.Null or JsonValueKind.Undefined => "",
            JsonValueKind.Array => string.Join(",", value.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString() : e.ValueKind == JsonValueKind.Object && e.TryGetProperty("itemId", out var id) ? id.ToString() : e.ToString())),
            _ => value.ToString(),
        };
        text = text.ReplaceLineEndings(" ");
        return text.Length > 60 ? text[..57] + "..." : text;
    }

    /// <summary>Display columns: East Asian wide characters (CJK, full-width forms) take two.</summary>
    internal static int Width(string text)
    {
        var width = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            var v = rune.Value;
            width += (v >= 0x1100 && v <= 0x115F) || (v >= 0x2E80 && v <= 0xA4CF) || (v >= 0xAC00 && v <= 0xD7A3)
                || (v >= 0xF900 && v <= 0xFAFF) || (v >= 0xFE30 && v <= 0xFE4F) || (v >= 0xFF00 && v <= 0xFF60) || (v >= 0xFFE0 && v <= 0xFFE6)
                || (v >= 0x20000 && v <= 0x3FFFD) ? 2 : 1;
        }

        return width;
    }
}
