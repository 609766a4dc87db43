using System.CommandLine;
using GovShare.Node.Hosting;

namespace GovShare.Cli.Commands;

/// <summary><c>govshare node run</c>: runs a node from appsettings.json and environment variables.</summary>
internal static class NodeCommands
{
    public static Command Create()
    {
        var node = new Command("node", "Run and manage this jurisdiction's node.");
        var run = new Command("run", "Run the node (settings: appsettings.json in the current folder, Node__* environment variables, --Node:Setting=value).");
        run.TreatUnmatchedTokensAsErrors = false;
        run.SetAction(async (parse, cancellation) =>
        {
            var passThrough = parse.UnmatchedTokens.ToArray();
            return await RunAsync(passThrough, overrides: null, cancellation);
        });
        node.Add(run);
        return node;
    }

    /// <summary>Builds and runs a node, turning configuration faults into a readable message and exit code 2.</summary>
    public static async Task<int> RunAsync(string[] args, IEnumerable<KeyValuePair<string, string?>>? overrides, CancellationToken cancellation, Func<GovShareNode, Task>? beforeStart = null, Action<GovShareNode>? started = null)
    {
        GovShareNode built;
        try
        {
            built = GovShareNode.Build(args, overrides);
        }
        catch (NodeConfigurationException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            return ExitCodes.Usage;
        }

        await using var node = built;
        if (beforeStart is not null)
        {
            await beforeStart(node);
        }

        await node.StartAsync(cancellation);
        started?.Invoke(node);
        await Console.Out.WriteLineAsync($"GovShare node {node.Options.DivisionCode} serving departments on {node.ExchangeAddress} (mTLS), management on {node.ManagementAddress}. Ctrl+C stops it.");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellation);
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C or SIGTERM: stop gracefully below.
        }

        await node.StopAsync(CancellationToken.None);
        return ExitCodes.Ok;
    }
}
