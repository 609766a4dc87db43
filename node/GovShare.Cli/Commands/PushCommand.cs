using System.CommandLine;
using System.Runtime.CompilerServices;
using Apache.Arrow;
using GovShare.Adapters;
using GovShare.Contract;

namespace GovShare.Cli.Commands;

/// <summary>
/// <c>govshare push</c>: fetches the resource's catalog entry, converts a department's CSV, JSON
/// lines, Arrow file or SQL table to its items — checking the mapping and every value against the
/// entry — and uploads the batches as they are made; a value that fails cuts the upload before its
/// end, so the node publishes nothing. <c>--dry-run</c> does all of that except the upload.
/// </summary>
internal static class PushCommand
{
    public static Command Create()
    {
        var resource = new Option<string>("--resource") { Description = "The resource code (catalog).", Required = true };
        var append = new Option<bool>("--append") { Description = "Add the rows to the node's dataset instead of replacing it." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Check the mapping and every value against the node's catalog entry, and push nothing." };
        var source = new DataSourceOptions { FirstBatchSize = 8_192 };
        var command = new Command("push", "Push a department's data for one resource to the node (replace by default). "
            + "The mapping and every value are checked against the resource's catalog entry before anything is uploaded.") { resource, append, dryRun };
        source.AddTo(command);
        DepartmentCommand.AddOptions(command);
        command.SetAction((parse, cancellation) => DepartmentCommand.RunAsync(async () =>
        {
            var config = DepartmentCommand.Load(parse);
            PhaseTrace.Mark("settings and credentials read");
            var code = parse.GetValue(resource)!;
            var progress = new TransferProgressLine(parse.GetValue(dryRun) ? "check" : "push");
            var (open, connection) = source.Resolve(parse, progress.Bytes);
            progress.Total = source.FileBytes;
            PhaseTrace.Mark("source resolved");
            await using (connection)
            {
                using var http = config.CreateHttpClient();
                var client = new NodeClient(http);
                PhaseTrace.Mark("HTTP client made (certificate, CA)");
                // The catalog entry is fetched while the source opens (a database connection, the
                // query's schema) and converts its first batch; every value is still checked against
                // the entry before anything goes out.
                var entry = client.GetCatalogCheckAsync(code, cancellation);
                var batches = Counted(CatalogCheck.CheckAsync(entry, open().ReadAsync(cancellation), cancellation), progress.Rows);
                if (parse.GetValue(dryRun))
                {
                    long rows = 0;
                    await foreach (var batch in batches.WithCancellation(cancellation))
                    {
                        rows += batch.Length;
                    }

                    progress.Done();
                    Console.WriteLine($"Dry run: {rows:N0} rows match the {(await entry).Items.Count} items of {code}'s catalog entry; nothing was pushed.");
                    return ExitCodes.Ok;
                }

                // Converted and uploaded at once: a value that fails stops the upload before its
                // end-of-stream marker, so the node publishes nothing (NodeClient.PushAsync).
                var receipt = await client.PushAsync(code, parse.GetValue(append) ? PushMode.Append : PushMode.Replace, batches, cancellation: cancellation);
                progress.Done();
                PhaseTrace.Mark("push done");
                Console.WriteLine($"Pushed {receipt.Rows:N0} rows to {code}: version {receipt.Version}, exchange {receipt.ExchangeId}.");
                return ExitCodes.Ok;
            }
        }));
        return command;
    }

    private static async IAsyncEnumerable<RecordBatch> Counted(IAsyncEnumerable<RecordBatch> batches, IProgress<long> rows, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        long count = 0;
        await foreach (var batch in batches.WithCancellation(cancellation))
        {
            if (count == 0)
            {
                PhaseTrace.Mark("first batch converted and checked");
            }

            count += batch.Length;
            rows.Report(count);
            yield return batch;
        }

        PhaseTrace.Mark($"source read to its end: {count:N0} rows");
    }
}
