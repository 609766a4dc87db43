using System.CommandLine;
using System.CommandLine.Parsing;

namespace GovShare.Cli.Commands;

/// <summary>The command tree. Each area adds its commands; this file only assembles them and runs one.</summary>
internal static class GovShareCommand
{
    public static RootCommand Create()
    {
#if DEPARTMENT_TOOL
        // The department tool (node/GovShare.DepartmentTool, Native AOT): the department's commands only.
        var root = new RootCommand("GovShare: the department's tool for a government information resource sharing node.");
#else
        var root = new RootCommand("GovShare: the government information resource sharing node and its tools.");
        root.Add(NodeCommands.Create());
        root.Add(DemoCommand.Create());
#endif
        root.Add(CertsCommands.Create());
#if !DEPARTMENT_TOOL
        root.Add(DepartmentCommands.Create());
        root.Add(LogCommands.Create());
#endif
        root.Add(PushCommand.Create());
        root.Add(PullCommand.Create());
        root.Add(CatalogCommands.Create());
        root.Add(SyncCommand.Create());
        root.Add(CompareCommand.Create());
        RequestCommands.Create().ToList().ForEach(root.Add);
#if !DEPARTMENT_TOOL
        root.Add(EvaluationCommands.Create());
        root.Add(OfficeCommands.Create());
#endif
        root.Add(ReportCommands.Department());
        CommandExamples.AddTo(root);
        return root;
    }

    /// <summary>
    /// Parses and runs one command line with the documented exit codes: a parse error (a typo, a
    /// missing option) is 2, not System.CommandLine's 1, and an unexpected fault is one readable
    /// line and 1 — never a stack trace.
    /// </summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var parse = Create().Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                await Console.Error.WriteLineAsync(error.Message);
            }

            await Console.Error.WriteLineAsync($"See '{CommandLine(parse.CommandResult.Command)} --help' for the options and an example.");
            return ExitCodes.Usage;
        }

        var invocation = Invocation(parse);
        try
        {
            return await parse.InvokeAsync(invocation);
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync(DepartmentCommand.NothingDone is { } said ? $"Cancelled; {char.ToLowerInvariant(said[0])}{said[1..]}" : "Cancelled.");
            return ExitCodes.Cancelled;
        }
#pragma warning disable CA1031 // The last line of defence: a person sees one line, not a .NET stack trace.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            await Console.Error.WriteLineAsync($"govshare failed: {Readable(ex)}");
            return ExitCodes.Failed;
        }
    }

    /// <summary>
    /// How a parsed command is invoked. <c>node run</c> and <c>demo</c> host a node whose own
    /// lifetime takes SIGTERM, SIGINT and Ctrl+C and stops gracefully (drain, closing checkpoints,
    /// Kafka flush); System.CommandLine's handling would end the process a fixed time after the
    /// signal, mid-drain, so it is off for them. Other commands keep it: Ctrl+C cancels the action's
    /// token, and the time allowed lets it delete its temporary files (a push's staged file, a
    /// pull's .partial) before the process ends.
    /// </summary>
    private static InvocationConfiguration Invocation(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        var hostsNode = command.Name == "demo" || (command.Name == "run" && parse.CommandResult.Parent is CommandResult { Command.Name: "node" });
        return new InvocationConfiguration
        {
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = hostsNode ? null : TimeSpan.FromSeconds(10),
        };
    }

    /// <summary>
    /// An exception's message for a person: an <see cref="ArgumentException"/>'s own text without
    /// .NET's " (Parameter 'text')" suffix, which names a C# parameter, not an option.
    /// </summary>
    internal static string Readable(Exception ex) =>
        ex is ArgumentException { ParamName: { } name } && ex.Message.EndsWith($" (Parameter '{name}')", StringComparison.Ordinal)
            ? ex.Message[..^$" (Parameter '{name}')".Length]
            : ex.Message;

    /// <summary>The command as typed, e.g. <c>govshare catalog create</c>.</summary>
    internal static string CommandLine(Command command)
    {
        var names = new List<string>();
        for (var current = command; current is not null and not RootCommand; current = current.Parents.OfType<Command>().FirstOrDefault())
        {
            names.Insert(0, current.Name);
        }

        return string.Join(' ', names.Prepend("govshare"));
    }
}
