using System.CommandLine;
using GovShare.Adapters;
using GovShare.Contract;

namespace GovShare.Cli.Commands;

/// <summary>
/// <c>govshare push</c>: fetches the resource's catalog entry, converts a department's CSV, JSON
/// lines, Arrow file or SQL table to its items — checking the mapping and every value against the
/// entry — in full, to a temporary Arrow file, and pushes it only after a clean pass.
/// <c>--dry-run</c> does all of that except the upload.
/// </summary>
internal static class PushCommand
{
    public static Command Create()
    {
        var resource = new Option<string>("--resource") { Description = "The resource code (catalog).", Required = true };
        var append = new Option<bool>("--append") { Description = "Add the rows to the node's dataset instead of replacing it." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Check the mapping and every value against the node's catalog entry, and push nothing." };
        var source = new DataSourceOptions();
        var command = new Command("push", "Push a department's data for one resource to the node (replace by default). "
            + "The mapping and every value are checked against the resource's catalog entry before anything is uploaded.") { resource, append, dryRun };
        source.AddTo(command);
        DepartmentCommand.AddOptions(command);
        command.SetAction((parse, cancellation) => DepartmentCommand.RunAsync(async () =>
        {
            var config = DepartmentCommand.Load(parse);
            var code = parse.GetValue(resource)!;
            var progress = new TransferProgressLine("read");
            var (open, connection) = source.Resolve(parse, progress.Bytes);
            progress.Total = source.FileBytes;
            await using (connection)
            {
                using var http = config.CreateHttpClient();
                var client = new NodeClient(http);
                var check = await client.GetCatalogCheckAsync(code, cancellation);
                if (parse.GetValue(dryRun))
                {
                    long rows = 0;
                    await foreach (var batch in check.CheckAsync(open().ReadAsync(cancellation), cancellation).WithCancellation(cancellation))
                    {
                        rows += batch.Length;
                        progress.Rows.Report(rows);
                    }

                    progress.Done();
                    Console.WriteLine($"Dry run: {rows:N0} rows match the {check.Items.Count} items of {code}'s catalog entry; nothing was pushed.");
                    return ExitCodes.Ok;
                }

                await using var staged = await StagedDataset.StageAsync(check.CheckAsync(open().ReadAsync(cancellation), cancellation), TemporaryFiles.Folder, rowsRead: progress.Rows, cancellation: cancellation);
                progress.Done();
                var upload = new TransferProgressLine($"push {staged.Rows:N0} rows", staged.Bytes);
                var receipt = await client.PushAsync(code, parse.GetValue(append) ? PushMode.Append : PushMode.Replace, staged, upload.Bytes, cancellation);
                upload.Done();
                Console.WriteLine($"Pushed {receipt.Rows:N0} rows to {code}: version {receipt.Version}, exchange {receipt.ExchangeId}.");
                return ExitCodes.Ok;
            }
        }));
        return command;
    }
}
