using GovShare.Cli.Commands;
using GovShare.Node.Catalog;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Cli;

/// <summary>The office's commands against a real node: what they record, and their exit codes when the node refuses.</summary>
public sealed class OfficeCommandsTests
{
    private static Task<int> Run(params string[] args) => GovShareCommand.Create().Parse(args).InvokeAsync();

    [Fact]
    public async Task Office_RecordsDutyChangeAndDesignation_RefusalsExitFailedAndRecordNothing()
    {
        using var pki = new TestPki();
        await using var node = await TestNode.StartAsync(pki);
        string[] at = ["--data", node.DataPath, "--management", node.ManagementAddress.ToString()];
        var police = pki.IssueDepartment(name: "Kunming Public Security Bureau");
        node.Register(police);
        var duties = node.Services.GetRequiredService<DutyChangeRegister>();

        Assert.Equal(ExitCodes.Failed, await Run(["office", "duty-change", "record", "--description", "Duties moved", "--department", TestPki.NewCreditCode(), .. at]));
        Assert.Empty(duties.All());
        Assert.Equal(ExitCodes.Ok, await Run(["office", "duty-change", "record", "--description", "Duties moved", "--legal-basis", "云南省人民政府令第200号", "--department", police.CreditCode, .. at]));
        var recorded = Assert.Single(duties.All());
        Assert.Equal(("govshare:operator/530100/bootstrap", police.CreditCode), (recorded.RecordedBy, Assert.Single(recorded.Departments).Department.CreditCode));
        Assert.Equal(ExitCodes.Ok, await Run(["office", "deadlines", .. at]));
        Assert.Equal(ExitCodes.Ok, await Run(["office", "duty-change", "list", .. at]));

        Assert.Equal(ExitCodes.Failed, await Run(["office", "review", "reject", "101002/000001", "--reason", "no basis", .. at]));
        Assert.Equal(ExitCodes.Failed, await Run(["office", "review", "approve", "../../etc", .. at]));
        Assert.Equal(ExitCodes.Failed, await Run(["office", "filing", "approve", "fil-530101-0001", .. at]));
        Assert.Equal(ExitCodes.Ok, await Run(["office", "filing", "list", "--child", "530101", .. at]));

        var designations = node.Services.GetRequiredService<CollectorDesignations>();
        Assert.Equal(ExitCodes.Failed, await Run(["office", "designate", "--item", "公民身份号码", "--type", "text", "--division", "530100", "--credit-code", police.CreditCode, "--reason", "户籍登记", .. at]));
        Assert.Empty(designations.All());
        Assert.Equal(ExitCodes.Ok, await Run(["office", "designate", "--item", "公民身份号码", "--type", "utf8", "--division", "530100", "--credit-code", police.CreditCode, "--reason", "户籍登记", .. at]));
        Assert.Equal(police.CreditCode, Assert.Single(designations.All()).Collector.CreditCode);
        Assert.Equal(ExitCodes.Ok, await Run(["office", "duplicates", .. at]));

        // Art. 12 and 42: this node's own filings at its parent (it has none), and no office above to pass an escalation to (409).
        Assert.Equal(ExitCodes.Ok, await Run(["office", "filing", "at-parent", .. at]));
        Assert.Equal(ExitCodes.Failed, await Run(["office", "pass-up", "530101/vio-0a1b2c3d4e5f60718293", "--reason", "省办无法协调", .. at]));
    }
}
