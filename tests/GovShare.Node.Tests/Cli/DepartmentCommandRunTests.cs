using GovShare.Cli.Commands;

namespace GovShare.Node.Tests.Cli;

/// <summary>How a department command is run, where a process test cannot reach the moment that matters.</summary>
public sealed class DepartmentCommandRunTests
{
    /// <summary>
    /// System.CommandLine 2.0.0 installs its Ctrl+C/SIGTERM handling only after the action has
    /// returned its task. A department command that opened its files before its first real await
    /// (a pull's .partial is created before the node is asked) could be killed outright by a Ctrl+C
    /// in that window, with no clean-up. So the action must not run before its task is returned.
    /// </summary>
    [Fact]
    public async Task RunAsync_ReturnsItsTaskBeforeTheActionRuns_SoCtrlCHandlingIsInPlaceFirst()
    {
        using var handedOver = new ManualResetEventSlim();

        var run = DepartmentCommand.RunAsync(() => Task.FromResult(handedOver.Wait(TimeSpan.FromSeconds(30)) ? ExitCodes.Ok : ExitCodes.Failed));
        handedOver.Set();

        Assert.Equal(ExitCodes.Ok, await run);
    }
}
