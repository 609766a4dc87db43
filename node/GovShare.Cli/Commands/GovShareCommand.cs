using System.CommandLine;
using System.CommandLine.Parsing;

namespace GovShare.Cli.Commands;

/// <summary>The command tree. Each area adds its commands; this file only assembles them.</summary>
internal static class GovShareCommand
{
    public static RootCommand Create()
    {
        var root = new RootCommand("GovShare: the government information resource sharing node and its tools.");
        root.Add(NodeCommands.Create());
        root.Add(DemoCommand.Create());
        root.Add(CertsCommands.Create());
        root.Add(DepartmentCommands.Create());
        root.Add(LogCommands.Create());
        root.Add(PushCommand.Create());
        root.Add(PullCommand.Create());
        root.Add(CatalogCommands.Create());
        root.Add(SyncCommand.Create());
        RequestCommands.Create().ToList().ForEach(root.Add);
        root.Add(EvaluationCommands.Create());
        return root;
    }

    /// <summary>
    /// How a parsed command is invoked. <c>node run</c> and <c>demo</c> host a node whose own
    /// lifetime takes SIGTERM, SIGINT and Ctrl+C and stops gracefully (drain, closing checkpoints,
    /// Kafka flush); System.CommandLine's handling would end the process 2 s after the signal,
    /// mid-drain, so it is off for them. Other commands keep it (their token is cancelled).
    /// </summary>
    public static InvocationConfiguration Invocation(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var command = parse.CommandResult.Command;
        var hostsNode = command.Name == "demo" || (command.Name == "run" && parse.CommandResult.Parent is CommandResult { Command.Name: "node" });
        return hostsNode ? new InvocationConfiguration { ProcessTerminationTimeout = null } : new InvocationConfiguration();
    }
}
