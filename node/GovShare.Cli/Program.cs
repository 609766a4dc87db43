using GovShare.Cli.Commands;

// The `govshare` program: the node itself (`node run`, `demo`) and the operator's commands.
var parse = GovShareCommand.Create().Parse(args);
return await parse.InvokeAsync(GovShareCommand.Invocation(parse));
