using System.Globalization;
using System.Text;
using GovShare.Node.Desensitisation;

namespace GovShare.Node.Catalog;

/// <summary>
/// An entry's item list as CSV, the way departments keep catalogs in spreadsheets.
/// Columns: <c>id,name,dataType,length,nullable,shareable,sensitivity,masking</c>, and a ninth,
/// <c>key</c> (true or false), written only when some item is a key item and optional on import
/// (so item lists written before key items existed still import); UTF-8 with a
/// BOM (so spreadsheet programs read Chinese names correctly), CRLF, RFC 4180 quoting.
/// A text cell that a spreadsheet would run as a formula (starting with <c>= + - @</c>, tab or
/// CR) is written with a leading <c>'</c>, which the parser removes again.
/// Masking is <c>none</c>, <c>redact</c>, <c>pseudonym</c>, <c>keepEnds(6,4)</c>,
/// <c>generaliseDate(month)</c> or <c>bucket(0;18;60)</c>.
/// </summary>
public static class CatalogCsv
{
    public const string ContentType = "text/csv; charset=utf-8";
    public const int MaxRows = CatalogLimits.MaxItems;
    private static readonly string[] Header = ["id", "name", "dataType", "length", "nullable", "shareable", "sensitivity", "masking"];
    private static readonly string[] HeaderWithKey = [.. Header, "key"];

    /// <summary>The item list as CSV bytes, BOM included.</summary>
    public static byte[] Write(IReadOnlyList<InformationItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        var text = new StringBuilder();
        var withKey = items.Any(i => i.Key);
        text.AppendJoin(',', withKey ? HeaderWithKey : Header).Append("\r\n");
        foreach (var i in items)
        {
            string[] cells =
            [
                i.Id, i.Name, i.DataType,
                i.Length?.ToString(CultureInfo.InvariantCulture) ?? "",
                i.Nullable ? "true" : "false",
                i.Shareable ? "true" : "false",
                JsonName(i.Sensitivity.ToString()),
                FormatMasking(i.Masking),
                .. withKey ? [i.Key ? "true" : "false"] : Array.Empty<string>(),
            ];
            text.AppendJoin(',', cells.Select(Cell)).Append("\r\n");
        }

        return [.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(text.ToString())];
    }

    /// <summary>Parses an item list; every defect is reported with its row (the header is row 1).</summary>
    public static (IReadOnlyList<InformationItem> Items, IReadOnlyList<CatalogValidationError> Errors) Parse(string csv)
    {
        ArgumentNullException.ThrowIfNull(csv);
        var errors = new List<CatalogValidationError>();
        var items = new List<InformationItem>();
        var rows = Rows(csv.TrimStart('\uFEFF'), errors);
        if (errors.Count > 0)
        {
            return (items, errors);
        }

        var withKey = rows.Count > 0 && rows[0].Select(h => h.Trim()).SequenceEqual(HeaderWithKey, StringComparer.OrdinalIgnoreCase);
        if (rows.Count == 0 || !(withKey || rows[0].Select(h => h.Trim()).SequenceEqual(Header, StringComparer.OrdinalIgnoreCase)))
        {
            errors.Add(new("items.csv:row 1", "csv.header", $"the header must be {string.Join(",", Header)}, optionally followed by ,key"));
            return (items, errors);
        }

        if (rows.Count - 1 > MaxRows)
        {
            errors.Add(new("items.csv", "tooMany", $"{rows.Count - 1} rows; at most {MaxRows}"));
            return (items, errors);
        }

        for (var r = 1; r < rows.Count; r++)
        {
            var row = rows[r];
            var path = $"items.csv:row {r + 1}";
            var width = withKey ? HeaderWithKey.Length : Header.Length;
            if (row.Count != width)
            {
                errors.Add(new(path, "csv.columns", $"{row.Count} cells; expected {width}"));
                continue;
            }

            var c = row.Select(Uncell).ToArray();
            int? length = null;
            if (c[3].Length > 0)
            {
                if (int.TryParse(c[3], NumberStyles.None, CultureInfo.InvariantCulture, out var l))
                {
                    length = l;
                }
                else
                {
                    errors.Add(new(path + ".length", "csv.number", "length is a whole number or empty"));
                }
            }

            var nullable = Bool(c[4], path + ".nullable", errors);
            var shareable = Bool(c[5], path + ".shareable", errors);
            if (!Enum.TryParse<Sensitivity>(c[6], ignoreCase: true, out var sensitivity) || !Enum.IsDefined(sensitivity) || c[6].Any(char.IsAsciiDigit))
            {
                errors.Add(new(path + ".sensitivity", "unknownValue", $"sensitivity must be one of {string.Join(", ", Enum.GetNames<Sensitivity>().Select(JsonName))}"));
            }

            if (!TryParseMasking(c[7], out var masking))
            {
                errors.Add(new(path + ".masking", "masking.invalid", "masking is none, redact, pseudonym, keepEnds(a,b), generaliseDate(year|month) or bucket(x;y;…)"));
            }

            var key = withKey && Bool(c[8], path + ".key", errors);
            items.Add(new InformationItem(c[0], c[1], c[2], length, nullable, shareable, sensitivity, masking, key));
        }

        return (items, errors);
    }

    private static bool Bool(string cell, string path, List<CatalogValidationError> errors)
    {
        if (bool.TryParse(cell, out var value))
        {
            return value;
        }

        errors.Add(new(path, "csv.boolean", "true or false"));
        return false;
    }

    private static string JsonName(string name) => char.ToLowerInvariant(name[0]) + name[1..];

    internal static string FormatMasking(MaskingRule? rule) => rule?.Kind switch
    {
        null or MaskingKind.None => "none",
        MaskingKind.Redact => "redact",
        MaskingKind.Pseudonym => "pseudonym",
        MaskingKind.KeepEnds => string.Create(CultureInfo.InvariantCulture, $"keepEnds({rule.Keep},{rule.KeepEnd})"),
        MaskingKind.GeneraliseDate => $"generaliseDate({rule.Precision.ToString().ToLowerInvariant()})",
        MaskingKind.Bucket => $"bucket({string.Join(';', (rule.Boundaries ?? []).Select(b => b.ToString("R", CultureInfo.InvariantCulture)))})",
        _ => rule.Kind.ToString(),
    };

    internal static bool TryParseMasking(string text, out MaskingRule? rule)
    {
        rule = null;
        var t = text.Replace(" ", "", StringComparison.Ordinal).ToLowerInvariant();
        var open = t.IndexOf('(', StringComparison.Ordinal);
        var name = open < 0 ? t : t[..open];
        var args = open < 0 ? null : t.EndsWith(')') ? t[(open + 1)..^1] : null;
        if (open >= 0 && args is null)
        {
            return false;
        }

        switch (name, args)
        {
            case ("" or "none", null):
                return true;
            case ("redact", null):
                rule = MaskingRule.Redact;
                return true;
            case ("pseudonym", null):
                rule = MaskingRule.Pseudonym;
                return true;
            case ("keepends", not null):
                var parts = args.Split(',');
                if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var keep)
                    && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var keepEnd))
                {
                    rule = MaskingRule.KeepEnds(keep, keepEnd);
                    return true;
                }

                return false;
            case ("generalisedate", "year"):
                rule = MaskingRule.GeneraliseDate(DatePrecision.Year);
                return true;
            case ("generalisedate", "month"):
                rule = MaskingRule.GeneraliseDate(DatePrecision.Month);
                return true;
            case ("bucket", not null):
                var values = new List<double>();
                foreach (var part in args.Split(';'))
                {
                    if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
                    {
                        return false;
                    }

                    values.Add(v);
                }

                rule = MaskingRule.Bucket([.. values]);
                return true;
            default:
                return false;
        }
    }

    private static string Cell(string? value)
    {
        var v = value ?? "";
        if (v.Length > 0 && v[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            v = "'" + v;
        }

        return v.IndexOfAny([',', '"', '\r', '\n']) >= 0 ? "\"" + v.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : v;
    }

    private static string Uncell(string cell) =>
        cell.Length > 1 && cell[0] == '\'' && cell[1] is '=' or '+' or '-' or '@' or '\t' or '\r' ? cell[1..] : cell;

    private static List<List<string>> Rows(string csv, List<CatalogValidationError> errors)
    {
        var rows = new List<List<string>>();
        var row = new List<string>();
        var cell = new StringBuilder();
        var quoted = false;
        var line = 1;
        for (var i = 0; i < csv.Length; i++)
        {
            var ch = csv[i];
            if (quoted)
            {
                if (ch == '"')
                {
                    if (i + 1 < csv.Length && csv[i + 1] == '"')
                    {
                        cell.Append('"');
                        i++;
                    }
                    else
                    {
                        quoted = false;
                    }
                }
                else
                {
                    line += ch == '\n' ? 1 : 0;
                    cell.Append(ch);
                }

                continue;
            }

            switch (ch)
            {
                case '"' when cell.Length == 0:
                    quoted = true;
                    break;
                case ',':
                    row.Add(cell.ToString());
                    cell.Clear();
                    break;
                case '\r':
                    break;
                case '\n':
                    row.Add(cell.ToString());
                    cell.Clear();
                    rows.Add(row);
                    row = [];
                    line++;
                    break;
                default:
                    cell.Append(ch);
                    break;
            }
        }

        if (quoted)
        {
            errors.Add(new($"items.csv:line {line}", "csv.unterminatedQuote", "a quoted cell is not closed"));
        }

        if (cell.Length > 0 || row.Count > 0)
        {
            row.Add(cell.ToString());
            rows.Add(row);
        }

        rows.RemoveAll(r => r.Count == 1 && r[0].Length == 0);
        return rows;
    }
}
