using System.CommandLine;

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
}
