using System.CommandLine;
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
        var csv = new Option<string?>("--csv") { Description = "Write a CSV file (UTF-8 with BOM, spreadsheet-safe)." };
        var raw = new Option<bool>("--raw-csv") { Description = "Do not guard text cells that look like spreadsheet formulas." };
        var encoding = new Option<string?>("--encoding") { Description = "CSV encoding: utf-8-bom (default), utf-8 or gb18030." };
        var jsonl = new Option<string?>("--jsonl") { Description = "Write a JSON lines file." };
        var arrow = new Option<string?>("--arrow") { Description = "Write an Arrow IPC file." };
        var sqlite = new Option<string?>("--sqlite") { Description = "Write into a table of an SQLite database file." };
        var postgres = new Option<string?>("--postgres") { Description = "Write into a table of a PostgreSQL database (connection string)." };
        var table = new Option<string?>("--table") { Description = "The table to write (created when missing)." };
        var replace = new Option<bool>("--replace") { Description = "Empty the table first (in the same transaction)." };
        var command = new Command("pull", "Pull a resource's granted items from the node.") { resource, items, purpose, csv, raw, encoding, jsonl, arrow, sqlite, postgres, table, replace };
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

            System.Data.Common.DbConnection? connection = null;
            IRecordSink sink;
            if (parse.GetValue(csv) is { } csvPath)
            {
                sink = new CsvSink(csvPath, parse.GetValue(encoding) is { } name ? TextEncodings.Get(name) : null, spreadsheetSafe: !parse.GetValue(raw));
            }
            else if (parse.GetValue(jsonl) is { } jsonlPath)
            {
                sink = new JsonLinesSink(jsonlPath);
            }
            else if (parse.GetValue(arrow) is { } arrowPath)
            {
                sink = new ArrowFileSink(arrowPath);
            }
            else
            {
                var tableName = parse.GetValue(table) ?? throw new ArgumentException("Give --table with a database target.");
                (connection, var dialect) = DepartmentCommand.OpenDatabase(parse.GetValue(sqlite), parse.GetValue(postgres));
                sink = new SqlSink(connection, dialect, tableName, parse.GetValue(replace));
            }

            await using (connection)
            {
                using var http = config.CreateHttpClient();
                var progress = new TransferProgressLine("pull");
                var wanted = parse.GetValue(items)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
                var rows = await sink.WriteAsync(Counted(new NodeClient(http).PullAsync(parse.GetValue(resource)!, wanted, why, progress.Bytes, cancellation), progress.Rows), cancellation);
                progress.Done();
                Console.WriteLine($"Pulled {rows:N0} rows of {parse.GetValue(resource)}.");
                return ExitCodes.Ok;
            }
        }));
        return command;
    }

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
}
