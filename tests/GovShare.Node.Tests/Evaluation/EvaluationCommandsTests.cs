using GovShare.Cli.Commands;

namespace GovShare.Node.Tests.Evaluation;

/// <summary><c>govshare evaluation …</c> against a real node: exit codes, and the report written to a file.</summary>
public sealed class EvaluationCommandsTests
{
    [Fact]
    public async Task Evaluation_ThroughCli_ScanListReportAndOwnScorecard()
    {
        await using var env = await EvaluationNode.StartAsync();
        var y = env.Year.Year;
        var idle = env.Department("Kunming Statistics Bureau");
        env.At(new DateOnly(y, 3, 1));
        string[] op = ["--management", env.Node.ManagementAddress.ToString(), "--data", env.Node.DataPath];
        string[] dept = ["--node", env.Node.ExchangeAddress.ToString(), "--cert", idle.Department.Files.CertificatePath, "--key", idle.Department.Files.KeyPath, "--ca", Path.Combine(env.Pki.Root, "ca", "root", "ca.crt")];

        Assert.Equal(ExitCodes.Ok, await Run(["evaluation", "scan", .. op]));
        Assert.Equal(ExitCodes.Ok, await Run(["evaluation", "violations", "--kind", "catalogNotCompiled", "--year", $"{y}", .. op]));
        Assert.Equal(ExitCodes.Failed, await Run(["evaluation", "violations", "--kind", "stale", .. op]));
        Assert.Equal(ExitCodes.Ok, await Run(["evaluation", "scorecards", "--from", $"{y}-01-01", "--to", $"{y}-02-28", .. op]));
        Assert.Equal(ExitCodes.Failed, await Run(["evaluation", "scorecards", "--from", "January", .. op]));
        Assert.Equal(ExitCodes.Failed, await Run(["evaluation", "status", "vio-0000", "rectified", .. op]));
        Assert.Equal(ExitCodes.Ok, await Run(["evaluation", "scorecard", "--from", $"{y}-01-01", .. dept]));

        var file = Path.Combine(env.Pki.Root, "report.html");
        Assert.Equal(ExitCodes.Ok, await Run(["evaluation", "report", $"{y}", "--html", file, .. op]));
        Assert.StartsWith("<!DOCTYPE html>", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Failed, await Run(["evaluation", "report", "2016", .. op]));
        Assert.Equal(ExitCodes.Usage, await Run(["evaluation", "scan", "--management", env.Node.ManagementAddress.ToString(), "--data", Path.Combine(env.Pki.Root, "no-such-folder")]));
    }

    private static Task<int> Run(string[] args) => GovShareCommand.Create().Parse(args).InvokeAsync();
}
