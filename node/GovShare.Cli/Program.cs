using GovShare.Cli.Commands;

// The `govshare` program: the node itself (`node run`, `demo`) and the operator's commands.
return await GovShareCommand.Create().Parse(args).InvokeAsync();
