using System.CommandLine;
using System.Net.Http.Json;
using GovShare.Node.Hierarchy;
using GovShare.Node.Hosting;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

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
        node.Add(RebuildState());
        node.Add(Link());
        node.Add(Links());
        node.Add(Unlink());
        node.Add(Rekey());
        node.Add(Trust());
        node.Add(RefreshCrl());
        return node;
    }

    private static Command RebuildState()
    {
        var data = new Option<string>("--data") { Description = "The node's data folder (Node:DataPath). No node may be running on it.", Required = true };
        var rebuild = new Command("rebuild-state", "Rebuild the node's state database from its change log (the old database is kept in state-set-aside/). Other settings as for 'node run'.") { data };
        rebuild.TreatUnmatchedTokensAsErrors = false;
        rebuild.SetAction(async (parse, cancellation) =>
        {
            var folder = parse.GetValue(data)!;
            GovShareNode built;
            try
            {
                // Build opens the folder under its lock, sets the database aside and replays the whole change log into a new one.
                built = GovShareNode.Build(parse.UnmatchedTokens.ToArray(), [new("Node:DataPath", folder)], rebuildState: true);
            }
            catch (NodeConfigurationException ex)
            {
                await Console.Error.WriteLineAsync(ex.Message);
                return ExitCodes.Usage;
            }
            catch (DataFolderFormatException ex)
            {
                await Console.Error.WriteLineAsync(ex.Message);
                return ExitCodes.DataFolderFormat;
            }

            await using var node = built;
            var folderState = node.Services.GetRequiredService<NodeDataFolder>();
            var result = node.Services.GetRequiredService<ChangeLogReplay>().Last!;
            await Console.Out.WriteLineAsync(
                $"Rebuilt the state of {folderState.Path} from its change log: {result.Replayed} records replayed, {result.Skipped} without state, through sequence {result.AppliedThrough}, in {result.Took.TotalSeconds:F1} s. "
                + (folderState.StateSetAside is { } aside ? $"The previous database is in {aside}." : "There was no previous database."));
            return ExitCodes.Ok;
        });
        return rebuild;
    }

    private static Command Link()
    {
        var role = new Argument<string>("role") { Description = "'parent' (run on the child, naming its province) or 'child' (run on the parent, naming a prefecture)." };
        role.AcceptOnlyFromAmong("parent", "child");
        var division = new Option<string>("--division") { Description = "The other node's division code.", Required = true };
        var url = new Option<string>("--url") { Description = "The other node's exchange address, https://host:port.", Required = true };
        var key = KeyOption("The SHA-256 of the other node's key (printed by 'govshare certs node'); without it, the node reads the key from the other node's TLS handshake at --url and pins that.");
        var link = new Command("link", "Link this node with its parent or a child (both operators run it, each naming the other); the link pins the other node's key.") { role, division, url, key, OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        link.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.PostAsJsonAsync(
            "v1/operator/links",
            new LinkRegistration(parse.GetValue(division), parse.GetValue(role) == "parent" ? LinkRole.Parent : LinkRole.Child, parse.GetValue(url), parse.GetValue(key)),
            cancellation)));
        return link;
    }

    private static Command Rekey()
    {
        var division = new Argument<string>("division") { Description = "The linked node's division code." };
        var key = KeyOption("The SHA-256 of the node's new key; without it, the node reads the key from the linked node's TLS handshake at its address.");
        var rekey = new Command("rekey", "Pin a linked node's new key after it was issued a new certificate (logged as a re-key).") { division, key, OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        rekey.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.PostAsJsonAsync(
            $"v1/operator/links/{Uri.EscapeDataString(parse.GetValue(division)!)}/rekey",
            new LinkRekey(parse.GetValue(key)),
            cancellation)));
        return rekey;
    }

    private static Command Trust()
    {
        var trust = new Command("trust", "List the dates the node's trust depends on — its certificate, each CA certificate, each CRL's nextUpdate — with the seconds left and whether each is within the warning's reach (Node:ExpiryWarning, Node:CrlExpiryWarning).") { OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        trust.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync("v1/operator/trust", cancellation)));
        return trust;
    }

    private static Command RefreshCrl()
    {
        var refresh = new Command("refresh-crl", "Make the node re-read its CRL folder (Node:CrlPath) now, after new CRLs were published; prints each CA's CRL dates.") { OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        refresh.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.PostAsync("v1/operator/crl/refresh", content: null, cancellation)));
        return refresh;
    }

    private static Option<string?> KeyOption(string description) => new("--key-sha256") { Description = description };

    private static Command Links()
    {
        var links = new Command("links", "List this node's links.") { OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        links.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync("v1/operator/links", cancellation)));
        return links;
    }

    private static Command Unlink()
    {
        var division = new Argument<string>("division") { Description = "The other node's division code." };
        var unlink = new Command("unlink", "Remove a link.") { division, OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        unlink.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.DeleteAsync($"v1/operator/links/{Uri.EscapeDataString(parse.GetValue(division)!)}", cancellation)));
        return unlink;
    }

    /// <summary>Builds and runs a node, turning configuration faults into a readable message and exit code 2.</summary>
    public static async Task<int> RunAsync(string[] args, IEnumerable<KeyValuePair<string, string?>>? overrides, CancellationToken cancellation, Func<GovShareNode, Task>? beforeStart = null, Func<GovShareNode, Task>? started = null)
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
        catch (LogCorruptedException ex)
        {
            // Continuing the chain would bury the damage under new records: refuse, and say where.
            await Console.Error.WriteLineAsync(ex.Message);
            return ExitCodes.LogDamaged;
        }
        catch (DataFolderFormatException ex)
        {
            // A downgrade: an older build must not write into a folder it cannot read.
            await Console.Error.WriteLineAsync(ex.Message);
            return ExitCodes.DataFolderFormat;
        }

        await using var node = built;
        if (beforeStart is not null)
        {
            await beforeStart(node);
        }

        try
        {
            await node.StartAsync(cancellation);
        }
        catch (IOException ex)
        {
            // Typically a port already in use: say which settings decide the addresses.
            await Console.Error.WriteLineAsync($"The node cannot listen: {ex.Message} Check Node:ExchangeUrl ({node.Options.ExchangeUrl}) and Node:ManagementUrl ({node.Options.ManagementUrl}).");
            return ExitCodes.Usage;
        }

        if (started is not null)
        {
            await started(node);
        }
        await Console.Out.WriteLineAsync($"GovShare node {node.Options.DivisionCode} serving departments on {node.ExchangeAddress} (mTLS), management on {node.ManagementAddress}. Ctrl+C stops it.");
        // The host's console lifetime takes SIGTERM, SIGINT and Ctrl+C for itself (it only signals
        // ApplicationStopping), so waiting on the command line's token alone never ended: wait on both.
        var lifetime = node.Services.GetRequiredService<IHostApplicationLifetime>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation, lifetime.ApplicationStopping);
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C or SIGTERM: stop gracefully below.
        }

        await node.StopAsync(CancellationToken.None);
        return ExitCodes.Ok;
    }
}
