using System.Text.Json;
using Apache.Arrow;
using GovShare.Contract;

namespace GovShare.Adapters;

/// <summary>One source column and the catalog information item it becomes.</summary>
public sealed record ColumnMapping(string Column, string Item, ItemDataType Type);

/// <summary>
/// How a department's columns map to a resource's information items, in order. The Arrow schema
/// pushed to the node has one field per mapping, named by the item.
/// </summary>
/// <remarks>
/// The file form (see adapters/README.md):
/// <c>{"columns":[{"column":"姓名","item":"name","type":"utf8"}, …]}</c>.
/// </remarks>
public sealed record ItemMapping(IReadOnlyList<ColumnMapping> Columns)
{
    public Schema ToSchema()
    {
        var builder = new Schema.Builder();
        foreach (var column in Columns)
        {
            builder.Field(column.Type.ToField(column.Item));
        }

        return builder.Build();
    }

    /// <summary>Every column as utf8, named as in the source: the mapping used when none is given.</summary>
    public static ItemMapping AllText(IEnumerable<string> columns) =>
        new(columns.Select(c => new ColumnMapping(c, c, ItemDataType.Utf8)).ToList());

    /// <summary>Checks the mapping, collecting every fault: empty names, duplicate columns or items.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Columns.Count == 0)
        {
            errors.Add("The mapping has no columns.");
        }

        for (var i = 0; i < Columns.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(Columns[i].Column))
            {
                errors.Add($"columns[{i}]: 'column' is empty.");
            }

            if (string.IsNullOrWhiteSpace(Columns[i].Item))
            {
                errors.Add($"columns[{i}]: 'item' is empty.");
            }
        }

        errors.AddRange(Columns.GroupBy(c => c.Column, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => $"Column '{g.Key}' is mapped more than once."));
        errors.AddRange(Columns.GroupBy(c => c.Item, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => $"Item '{g.Key}' is mapped more than once."));
        return errors;
    }

    /// <summary>Reads a mapping file; every fault in it is reported at once.</summary>
    public static ItemMapping Load(string path)
    {
        using var stream = File.OpenRead(path);
        return Parse(stream, path);
    }

    public static ItemMapping Parse(Stream json, string name)
    {
        var errors = new List<string>();
        var columns = new List<ColumnMapping>();
        try
        {
            using var document = JsonDocument.Parse(json);
            if (!document.RootElement.TryGetProperty("columns", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                throw new MappingException(name, ["The mapping needs a 'columns' array."]);
            }

            var index = 0;
            foreach (var entry in list.EnumerateArray())
            {
                var column = Text(entry, "column");
                var item = Text(entry, "item") ?? column;
                var type = ItemDataType.Parse(Text(entry, "type") ?? "utf8", out var typeError);
                if (column is null)
                {
                    errors.Add($"columns[{index}]: 'column' is missing.");
                }

                if (typeError is not null)
                {
                    errors.Add($"columns[{index}]: {typeError}.");
                }

                if (column is not null && item is not null && type is not null)
                {
                    columns.Add(new ColumnMapping(column, item, type));
                }

                index++;
            }
        }
        catch (JsonException ex)
        {
            throw new MappingException(name, [$"Not valid JSON: {ex.Message}"]);
        }

        var mapping = new ItemMapping(columns);
        if (errors.Count == 0)
        {
            errors.AddRange(mapping.Validate());
        }

        return errors.Count == 0 ? mapping : throw new MappingException(name, errors);
    }

    private static string? Text(JsonElement entry, string name) =>
        entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>A mapping that cannot be used with a source (the mapping file, a source file or table, a resource); the message starts with which, then lists every fault found.</summary>
public sealed class MappingException(string source, IReadOnlyList<string> errors)
    : Exception($"{source}: the mapping cannot be used:{Environment.NewLine}  - {string.Join(Environment.NewLine + "  - ", errors)}")
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
