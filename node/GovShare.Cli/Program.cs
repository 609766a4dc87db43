using GovShare.Cli.Commands;

// The `govshare` program: the node itself (`node run`, `demo`) and the operator's and departments' commands.
return await GovShareCommand.RunAsync(args);
