using System.CommandLine;
using GovShare.Adapters;
using GovShare.Contract;

namespace GovShare.Cli.Commands;

/// <summary>
/// <c>govshare push</c>: converts a department's CSV, JSON lines, Arrow file or SQL table to the
/// resource's items, in full, to a temporary Arrow file, and pushes it only after a clean pass.
/// </summary>
internal static class PushCommand
{
    public static Command Create()
    {
        var resource = new Option<string>("--resource") { Description = "The resource code (catalog).", Required = true };
        var append = new Option<bool>("--append") { Description = "Add the rows to the node's dataset instead of replacing it." };
        var source = new DataSourceOptions();
        var command = new Command("push", "Push a department's data for one resource to the node (replace by default).") { resource, append };
        source.AddTo(command);
        DepartmentCommand.AddOptions(command);
        command.SetAction((parse, cancellation) => DepartmentCommand.RunAsync(async () =>
        {
            var config = DepartmentCommand.Load(parse);
            var (open, connection) = source.Resolve(parse);
            await using (connection)
            {
                var progress = new TransferProgressLine("read");
                await using var staged = await StagedDataset.StageAsync(open().ReadAsync(cancellation), rowsRead: progress.Rows, cancellation: cancellation);
                progress.Done();
                using var http = config.CreateHttpClient();
                var upload = new TransferProgressLine($"push {staged.Rows:N0} rows");
                var receipt = await new NodeClient(http).PushAsync(parse.GetValue(resource)!, parse.GetValue(append) ? PushMode.Append : PushMode.Replace, staged, upload.Bytes, cancellation);
                upload.Done();
                Console.WriteLine($"Pushed {receipt.Rows:N0} rows to {parse.GetValue(resource)}: version {receipt.Version}, exchange {receipt.ExchangeId}.");
                return ExitCodes.Ok;
            }
        }));
        return command;
    }
}
