using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Apache.Arrow;
using GovShare.Adapters;

namespace GovShare.Cli.Commands;

/// <summary>
/// <c>govshare compare</c>: reads a department's own copy of a resource (CSV, JSON lines, Arrow, SQL)
/// with the same readers as a push, keeps the key and compared items, checks them against the
/// catalog entry, and has the node compare them with the authoritative version (Art. 15). Prints
/// a summary; writes the differing keys (masked as the grant masks them) to a CSV file.
/// </summary>
internal static class CompareCommand
{
    /// <summary>
    /// What a comparison that failed did not do: it pushes nothing in any case, and the node compares
    /// only a whole upload, so before its answer nothing was compared and the keys file not written.
    /// </summary>
    private const string NothingCompared = "Nothing was compared; the keys file was not written.";

    public static Command Create()
    {
        var resource = new Option<string>("--resource") { Description = "The resource code (catalog).", Required = true };
        var key = new Option<string[]>("--key") { Description = "A key item (name or id; repeat or comma-separate for a compound key). Default: the catalog's key items.", AllowMultipleArgumentsPerToken = true };
        var items = new Option<string[]>("--items") { Description = "The items to compare (names or ids, comma-separated). Default: every column of the source that is an item, the key excepted.", AllowMultipleArgumentsPerToken = true };
        var purpose = new Option<string?>("--purpose") { Description = "The purpose code of the grant (default: 'purpose' in the config file)." };
        var keysFile = new Option<string>("--keys-file") { Description = "Where the differing keys go (CSV, UTF-8 with BOM).", DefaultValueFactory = _ => "compare-keys.csv" };
        var source = new DataSourceOptions();
        var command = new Command("compare", "Compare your department's copy of a resource with the authoritative version on the node, without either side's values "
            + "crossing over (Art. 15): counts per item of matched, differing and missing values, and the keys of the differing rows written to a file.") { resource, key, items, purpose, keysFile };
        source.AddTo(command);
        DepartmentCommand.AddOptions(command);
        command.SetAction((parse, cancellation) => DepartmentCommand.RunAsync(async () =>
        {
            var config = DepartmentCommand.Load(parse);
            var code = parse.GetValue(resource)!;
            var why = parse.GetValue(purpose) ?? config.Purpose ?? throw new ArgumentException("Give --purpose (or 'purpose' in the config file): the node checks it against the grant.");
            var progress = new TransferProgressLine("read");
            var (open, connection) = source.Resolve(parse, progress.Bytes);
            progress.Total = source.FileBytes;
            await using (connection)
            {
                using var http = config.CreateHttpClient();
                var client = new NodeClient(http);
                var entry = await client.GetCatalogCheckAsync(code, cancellation);
                var keys = List(parse.GetValue(key));
                if (keys.Count == 0)
                {
                    keys = [.. entry.Items.Where(i => i.Key).Select(i => i.Id)];
                }

                if (keys.Count == 0)
                {
                    throw new ArgumentException($"Give --key: the catalog entry of {code} names no key items.");
                }

                // The source's columns decide the compared items when none are named: read its first batch for them.
                var schema = await FirstSchemaAsync(open(), cancellation);
                var compared = List(parse.GetValue(items));
                var keyCheck = entry.Subset(keys);
                if (compared.Count == 0)
                {
                    compared = [.. schema.FieldsList.Select(f => f.Name).Where(n => entry.Covers(n) && !keyCheck.Covers(n))];
                }

                var check = entry.Subset([.. keys, .. compared]);
                var columns = schema.FieldsList.Select((f, i) => (f.Name, i)).Where(c => check.Covers(c.Name)).Select(c => c.i).ToArray();
                if (columns.Length < schema.FieldsList.Count)
                {
                    await Console.Error.WriteLineAsync($"Left out {schema.FieldsList.Count - columns.Length} column(s) that are not the key or compared items: {string.Join(", ", schema.FieldsList.Where((_, i) => !columns.Contains(i)).Select(f => f.Name))}.");
                }

                if (source.IsUnmappedText(parse))
                {
                    // A CSV or JSON lines file without --mapping is all text: read each kept column as
                    // its item's type in the catalog entry (a date compared as a date), as the README's
                    // `compare --csv` promises; the other columns are not read at all.
                    source.TextMapping = new ItemMapping([.. columns.Select(i => schema.FieldsList[i].Name)
                        .Select(name => new ColumnMapping(name, name, GovShare.Contract.ItemDataType.Parse(check.ItemFor(name)!.DataType)))]);
                    columns = [.. Enumerable.Range(0, columns.Length)];
                }

                await using var staged = await StagedDataset.StageAsync(check.CheckAsync(Project(open().ReadAsync(cancellation), columns), cancellation), TemporaryFiles.Folder, rowsRead: progress.Rows, cancellation: cancellation);
                progress.Done();
                var upload = new TransferProgressLine($"compare {staged.Rows:N0} rows", staged.Bytes);
                using var answer = await client.CompareAsync(code, keys, compared, why, staged, upload.Bytes, cancellation);
                upload.Done();
                var root = answer.RootElement;
                var file = parse.GetValue(keysFile)!;
                var written = await WriteKeysAsync(root, file, cancellation);
                Print(root, file, written);
                return ExitCodes.Ok;
            }
        }, NothingCompared));
        return command;
    }

    private static List<string> List(string[]? values) =>
        [.. (values ?? []).SelectMany(v => v.Split(',')).Select(v => v.Trim()).Where(v => v.Length > 0)];

    private static async Task<Schema> FirstSchemaAsync(IRecordSource source, CancellationToken cancellation)
    {
        await foreach (var batch in source.ReadAsync(cancellation).WithCancellation(cancellation))
        {
            using (batch)
            {
                return batch.Schema;
            }
        }

        throw new InvalidDataException("The source holds no rows.");
    }

    private static async IAsyncEnumerable<RecordBatch> Project(IAsyncEnumerable<RecordBatch> batches, int[] columns)
    {
        await foreach (var batch in batches)
        {
            if (columns.Length == batch.ColumnCount)
            {
                yield return batch;
                continue;
            }

            var fields = columns.Select(batch.Schema.GetFieldByIndex);
            yield return new RecordBatch(new Schema(fields, batch.Schema.Metadata), columns.Select(batch.Column), batch.Length);
        }
    }

    private static void Print(JsonElement root, string file, long written)
    {
        long Get(string name) => root.GetProperty(name).GetInt64();
        var output = Console.Out;
        output.WriteLine($"Compared {Get("submittedRows"):N0} rows with {root.GetProperty("resourceCode").GetString()} version {root.GetProperty("version").GetInt32()} ({Get("resourceRows"):N0} rows held), exchange {root.GetProperty("exchangeId").GetString()}.");
        output.WriteLine($"  Rows in both: {Get("rowsInBoth"):N0}   only yours: {Get("onlyInSubmission"):N0}   only the provider's: {Get("onlyInResource"):N0}");
        var table = root.GetProperty("items").EnumerateArray().Select(i => new[]
        {
            $"{i.GetProperty("name").GetString()} ({i.GetProperty("item").GetString()})",
            i.GetProperty("matched").GetInt64().ToString("N0", CultureInfo.InvariantCulture),
            i.GetProperty("differing").GetInt64().ToString("N0", CultureInfo.InvariantCulture),
            i.GetProperty("missingInResource").GetInt64().ToString("N0", CultureInfo.InvariantCulture),
            i.GetProperty("missingInSubmission").GetInt64().ToString("N0", CultureInfo.InvariantCulture),
            i.GetProperty("listed").GetBoolean() ? "" : "counted only (you see it masked)",
        }).Prepend(["item", "matched", "differing", "empty at provider", "empty in yours", ""]).ToList();
        var widths = Enumerable.Range(0, 5).Select(c => table.Max(r => Width(r[c]))).ToArray();
        foreach (var row in table)
        {
            var line = new StringBuilder("  ");
            for (var c = 0; c < 5; c++)
            {
                var pad = new string(' ', widths[c] - Width(row[c]));
                line.Append(c == 0 ? row[c] + pad : pad + row[c]).Append("  ");
            }

            output.WriteLine((line + row[5]).TrimEnd());
        }

        var omitted = Get("keysOmitted");
        output.WriteLine($"Differing rows: {Get("differingRows"):N0}. Wrote {written:N0} keys to {file}{(omitted > 0 ? $" ({omitted:N0} more not listed: the node's cap)" : "")}.");
    }

    /// <summary>Display width: a CJK character takes two columns of a terminal.</summary>
    private static int Width(string text) => text.Sum(c => c >= 0x1100 && (c <= 0x115F || (c >= 0x2E80 && c <= 0xA4CF) || (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFF00 && c <= 0xFF60)) ? 2 : 1);

    /// <summary>The keys: key items as the node gave them (masked where the grant masks them), then what differs.</summary>
    private static async Task<long> WriteKeysAsync(JsonElement root, string file, CancellationToken cancellation)
    {
        var keyNames = root.GetProperty("keyItems").EnumerateArray().Select(k => k.GetProperty("name").GetString()!).ToList();
        await using var writer = new StreamWriter(file, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
        await writer.WriteLineAsync(string.Join(",", keyNames.Append("difference").Select(Quote)).AsMemory(), cancellation);
        long written = 0;
        foreach (var row in root.GetProperty("differingKeys").EnumerateArray())
        {
            var what = "differs: " + string.Join(" ", row.GetProperty("items").EnumerateArray().Select(i => i.GetString()));
            await writer.WriteLineAsync(Line(row.GetProperty("key"), keyNames, what).AsMemory(), cancellation);
            written++;
        }

        foreach (var key in root.GetProperty("notInResourceKeys").EnumerateArray())
        {
            await writer.WriteLineAsync(Line(key, keyNames, "not held by the provider").AsMemory(), cancellation);
            written++;
        }

        return written;
    }

    private static string Line(JsonElement key, List<string> names, string what) =>
        string.Join(",", names.Select(n => key.TryGetProperty(n, out var v) && v.ValueKind != JsonValueKind.Null ? v.ToString() : "").Append(what).Select(Quote));

    /// <summary>RFC 4180, and spreadsheet-safe as the adapters' CSV: a leading = + - @ gets a '.</summary>
    private static string Quote(string text)
    {
        if (text.Length > 0 && text[0] is '=' or '+' or '-' or '@' or '\t' or '\r')
        {
            text = "'" + text;
        }

        return text.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + text.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : text;
    }
}
