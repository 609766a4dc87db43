using GovShare.Cli.Commands;

// The `govshare` program: the node itself (`node run`, `demo`) and the operator's and departments' commands.
GovShare.Adapters.PhaseTrace.Mark("main");
return await GovShareCommand.RunAsync(args);
