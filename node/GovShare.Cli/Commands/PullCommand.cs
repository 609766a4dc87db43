using System.CommandLine;
using System.Text;
using GovShare.Adapters;

namespace GovShare.Cli.Commands;

/// <summary><c>govshare pull</c>: pulls the granted items of a resource into CSV, JSON lines, an Arrow file or an SQL table.</summary>
internal static class PullCommand
{
    public static Command Create()
    {
        var resource = new Option<string>("--resource") { Description = "The resource code (catalog).", Required = true };
        var items = new Option<string?>("--items") { Description = "Comma-separated items (default: all granted)." };
        var purpose = new Option<string?>("--purpose") { Description = "The purpose code of the grant (default: 'purpose' in the config file)." };
        var csv = new Option<string?>("--csv") { Description = "Write a CSV file (UTF-8 with BOM, spreadsheet-safe); '-' writes standard output (UTF-8, no BOM)." };
        var raw = new Option<bool>("--raw-csv") { Description = "Do not guard text cells that look like spreadsheet formulas." };
        var encoding = new Option<string?>("--encoding") { Description = "CSV encoding: utf-8-bom (default), utf-8 or gb18030." };
        var delimiter = new Option<string>("--delimiter") { Description = "CSV field delimiter: one character or 'tab' (default ',').", DefaultValueFactory = _ => "," };
        var zone = new Option<string?>("--time-zone") { Description = "Write CSV timestamps at this offset, e.g. +08:00 or Asia/Shanghai (default: UTC, written with Z). The offset is always written." };
        var dateTimeFormat = new Option<string?>("--datetime-format") { Description = "Write CSV timestamps in this .NET format, e.g. 'yyyy-MM-dd HH:mm:ss' (at --time-zone; default: ISO 8601 with microseconds and the offset, e.g. 2026-03-01T00:30:00.000000Z)." };
        var dateFormat = new Option<string?>("--date-format") { Description = "Write CSV dates in this .NET format, e.g. 'yyyy/MM/dd' (default: yyyy-MM-dd)." };
        var jsonl = new Option<string?>("--jsonl") { Description = "Write a JSON lines file; '-' writes standard output." };
        var arrow = new Option<string?>("--arrow") { Description = "Write an Arrow IPC file." };
        var sqlite = new Option<string?>("--sqlite") { Description = "Write into a table of an SQLite database file." };
        var postgres = new Option<string?>("--postgres") { Description = "Write into a table of a PostgreSQL database, by binary COPY: Host=db;Database=dept;Username=…, or as psql takes it, 'host=db dbname=dept user=…' or postgresql://user@db/dept." };
        var table = new Option<string?>("--table") { Description = "The table to write (created when missing; an existing table must be empty unless --replace, --append or --upsert-key)." };
        var replace = new Option<bool>("--replace") { Description = "Empty the table first (in the same transaction)." };
        var append = new Option<bool>("--append") { Description = "Add the rows to what the table holds." };
        var upsertKey = new Option<string?>("--upsert-key") { Description = "Comma-separated key column(s): insert new keys, update existing rows (needs a unique index; a created table gets a primary key)." };
        var mapping = new Option<string?>("--mapping") { Description = "Column names for an existing table: a mapping file (adapters/README.md) whose 'item' is written to its 'column'." };
        var onwardTo = new Option<string?>("--onward-to") { Description = "Pull to pass the data on to this department (govshare:dept/<division>/<credit code>; Art. 33): the node answers only with the provider's consent for that recipient and purpose (govshare consent)." };
        var command = new Command("pull", "Pull a resource's granted items from the node.") { resource, items, purpose, csv, raw, encoding, delimiter, zone, dateTimeFormat, dateFormat, jsonl, arrow, sqlite, postgres, table, replace, append, upsertKey, mapping, onwardTo };
        DepartmentCommand.AddOptions(command);
        command.SetAction((parse, cancellation) => DepartmentCommand.RunAsync(async () =>
        {
            var config = DepartmentCommand.Load(parse);
            var why = parse.GetValue(purpose) ?? config.Purpose ?? throw new ArgumentException("Give --purpose (or 'purpose' in the config file): the node checks it against the grant.");
            var targets = new[] { csv, jsonl, arrow, sqlite, postgres }.Count(o => parse.GetValue(o) is not null);
            if (targets != 1)
            {
                throw new ArgumentException("Give exactly one target: --csv, --jsonl, --arrow, --sqlite or --postgres.");
            }

            var toStdout = parse.GetValue(csv) == "-" || parse.GetValue(jsonl) == "-";
            System.Data.Common.DbConnection? connection = null;
            IRecordSink sink;
            if (parse.GetValue(csv) is { } csvPath)
            {
                var offset = parse.GetValue(zone) is { } z ? DataSourceOptions.ParseZone(z) : (TimeSpan?)null;
                var separator = DataSourceOptions.ParseDelimiter(parse.GetValue(delimiter)!);
                var chosen = parse.GetValue(encoding) is { } name ? TextEncodings.Get(name) : null;
                var timestamps = DataSourceOptions.ParseFormat(parse.GetValue(dateTimeFormat), "--datetime-format", new DateTime(2026, 3, 1, 8, 30, 5));
                var dates = DataSourceOptions.ParseFormat(parse.GetValue(dateFormat), "--date-format", new DateTime(2026, 3, 1));
                sink = csvPath == "-"
                    ? new StdoutSink(async (batches, token) =>
                    {
                        await using var writer = Stdout(chosen);
                        var written = await new CsvSink("-", null, !parse.GetValue(raw), separator, offset, timestamps, dates).WriteAsync(writer, batches, token);
                        await writer.FlushAsync(token);
                        return written;
                    })
                    : new CsvSink(Partial("--csv", csvPath), chosen, spreadsheetSafe: !parse.GetValue(raw), separator, offset, timestamps, dates);
                DepartmentCommand.NothingDone = csvPath == "-" ? IncompleteOnStdout : NothingWrittenTo(csvPath);
            }
            else if (parse.GetValue(jsonl) is { } jsonlPath)
            {
                sink = jsonlPath == "-"
                    ? new StdoutSink((batches, token) => JsonLinesSink.WriteAsync(Console.OpenStandardOutput(), batches, token))
                    : new JsonLinesSink(Partial("--jsonl", jsonlPath));
                DepartmentCommand.NothingDone = jsonlPath == "-" ? IncompleteOnStdout : NothingWrittenTo(jsonlPath);
            }
            else if (parse.GetValue(arrow) is { } arrowPath)
            {
                sink = new ArrowFileSink(Partial("--arrow", arrowPath));
                DepartmentCommand.NothingDone = NothingWrittenTo(arrowPath);
            }
            else
            {
                var tableName = parse.GetValue(table) ?? throw new ArgumentException("Give --table with a database target.");
                var keys = parse.GetValue(upsertKey)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var modes = new[] { parse.GetValue(replace), parse.GetValue(append), keys is not null }.Count(m => m);
                if (modes > 1)
                {
                    throw new ArgumentException("Give at most one of --replace, --append and --upsert-key.");
                }

                var mode = parse.GetValue(replace) ? SqlWriteMode.Replace : parse.GetValue(append) ? SqlWriteMode.Append : keys is not null ? SqlWriteMode.Upsert : SqlWriteMode.New;
                var names = parse.GetValue(mapping) is { } file ? ItemMapping.Load(file).Columns.ToDictionary(c => c.Item, c => c.Column, StringComparer.Ordinal) : null;
                if (parse.GetValue(sqlite) is { } database)
                {
                    DataSourceOptions.TargetFile("--sqlite", database);
                }

                (connection, var dialect) = DepartmentCommand.OpenDatabase(parse.GetValue(sqlite), parse.GetValue(postgres));
                sink = new SqlSink(connection, dialect, tableName, mode, names, keys);
                // SqlSink writes every row in one transaction: a fault rolls it all back.
                DepartmentCommand.NothingDone = $"Nothing was written: the pull's one transaction was rolled back, so table {tableName} holds what it held before.";
            }

            await using (connection)
            {
                using var http = config.CreateHttpClient();
                var progress = new TransferProgressLine("pull");
                var wanted = parse.GetValue(items)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
                // The node announces the rows before the first one (GovShare-Data-Rows): the line then
                // shows the percentage and time left; without it, rows, bytes and the rate only.
                var pulled = new NodeClient(http).PullAsync(parse.GetValue(resource)!, wanted, why, parse.GetValue(onwardTo), rowsAnnounced: total => progress.TotalRows = total, progress.Bytes, cancellation);
                var rows = await sink.WriteAsync(Counted(pulled, progress.Rows), cancellation);
                progress.Done();
                var done = $"Pulled {rows:N0} rows of {parse.GetValue(resource)}.";
                if (toStdout)
                {
                    await Console.Error.WriteLineAsync(done); // Standard output is the data.
                }
                else
                {
                    Console.WriteLine(done);
                }

                return ExitCodes.Ok;
            }
        }, NothingWritten));
        return command;
    }

    /// <summary>What a pull that failed before its target was chosen did not do: a pull writes, it never pushes.</summary>
    private const string NothingWritten = "Nothing was written.";

    /// <summary>Standard output cannot be taken back: what reached it before the fault is only part of the data.</summary>
    private const string IncompleteOnStdout = "What reached standard output before this is incomplete: do not use it.";

    /// <summary>A file target is written as <c>path.partial</c> and renamed only when complete; the partial file is removed on any fault.</summary>
    private static string NothingWrittenTo(string path) => $"Nothing was written: {path} was not created or changed (the rows go to {path}.partial until the last one is in; it was removed).";

    /// <summary>The sinks write <c>path.partial</c> and rename it at the end; Ctrl+C must not leave it behind.</summary>
    private static string Partial(string option, string path)
    {
        DataSourceOptions.TargetFile(option, path);
        TemporaryFiles.DeleteAtExit(path + ".partial");
        return path;
    }

    private static StreamWriter Stdout(Encoding? encoding) =>
        new(Console.OpenStandardOutput(), encoding ?? new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 1 << 16) { AutoFlush = false };

    private static async IAsyncEnumerable<Apache.Arrow.RecordBatch> Counted(IAsyncEnumerable<Apache.Arrow.RecordBatch> batches, IProgress<long> rows)
    {
        long count = 0;
        await foreach (var batch in batches)
        {
            count += batch.Length;
            rows.Report(count);
            yield return batch;
        }
    }

    /// <summary>Standard output as a sink: written as it comes (nothing to rename), flushed at the end.</summary>
    private sealed class StdoutSink(Func<IAsyncEnumerable<Apache.Arrow.RecordBatch>, CancellationToken, Task<long>> write) : IRecordSink
    {
        public async Task<long> WriteAsync(IAsyncEnumerable<Apache.Arrow.RecordBatch> batches, CancellationToken cancellation = default)
        {
            var rows = await write(batches, cancellation);
            await Console.Out.FlushAsync(cancellation);
            return rows;
        }
    }
}
