using GovShare.Cli.Commands;
using GovShare.Node.Catalog;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Cli;

/// <summary>
/// The department tool (node/GovShare.DepartmentTool: GovShare.Cli's command files compiled under
/// DEPARTMENT_TOOL, published Native AOT for departments) has a command tree of its own. Its Native
/// AOT publish takes 5–13 minutes here, so the suite runs its ordinary build: the same sources, the
/// same command tree, the AOT and trim analyzers already run on it in every build, and
/// tests/department-tool.sh runs the department journeys through the published executable.
/// </summary>
public sealed class DepartmentToolBuildTests : IAsyncLifetime
{
    private const string Resource = "101001/000032";

    private ExchangeFixture _f = null!;
    private string _folder = null!;
    private string _provider = null!;

    public async Task InitializeAsync()
    {
        _f = await ExchangeFixture.StartAsync();
        _folder = Directory.CreateTempSubdirectory("govshare-tool-").FullName;
        var entry = Entry(Resource, _f.Provider, new ShareAttributes(ShareType.Unconditional)) with
        {
            Name = "企业登记（部门工具）",
            Items =
            [
                new InformationItem("code", "统一社会信用代码", "utf8", 18, Nullable: false),
                new InformationItem("capital", "注册资本", "decimal128(18,2)"),
                new InformationItem("updated_at", "更新时间", "timestamp"),
            ],
        };
        Assert.True(_f.Node.Services.GetRequiredService<CatalogStore>().Create(entry, Caller(_f.Provider)).Succeeded);
        _provider = GovShareProcess.DepartmentFolder(_folder, "provider", _f.Node.ExchangeAddress, _f.Provider, _f.Pki.Folder.TrustAnchorsFile);
        await File.WriteAllTextAsync(Path.Combine(_provider, "mapping.json"), """
            { "columns": [ { "column": "统一社会信用代码", "item": "code", "type": "utf8" },
                           { "column": "注册资本", "item": "capital", "type": "decimal128(18,2)" },
                           { "column": "更新时间", "item": "updated_at", "type": "timestamp" } ] }
            """);
        await File.WriteAllTextAsync(Path.Combine(_provider, "data.csv"), "统一社会信用代码,注册资本,更新时间\n91530100MA6K000001,1000.50,2026-03-01 08:30:00\n91530100MA6K000002,20.00,2026-03-02 09:00:00\n");
    }

    public async Task DisposeAsync()
    {
        await _f.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    private Task<GovShareRun> Tool(params string[] arguments) => GovShareProcess.RunAsync(_provider, arguments, build: ("dotnet", [Loopback.DepartmentToolDll()]));

    [Fact]
    public async Task Help_ListsTheDepartmentsCommands_NotTheNodes()
    {
        var help = await Tool("--help");
        Assert.True(help.ExitCode == ExitCodes.Ok, help.ToString());
        foreach (var command in new[] { "push", "pull", "sync", "compare", "catalog", "certs", "request", "inbox" })
        {
            Assert.Matches($@"(?m)^\s+{command}\b", help.Stdout);
        }

        foreach (var command in new[] { "node", "demo", "office", "evaluation" })
        {
            Assert.DoesNotMatch($@"(?m)^\s+{command}\b", help.Stdout);
        }

        var node = await Tool("node", "run");
        Assert.True(node.ExitCode == ExitCodes.Usage, node.ToString());
        Assert.True(node.ShowsNoInternals, node.ToString());
    }

    [Fact]
    public async Task DryRunPushAndPull_ThroughTheToolsCommandTree()
    {
        var dry = await Tool("push", "--csv", "data.csv", "--mapping", "mapping.json", "--resource", Resource, "--dry-run");
        Assert.True(dry.ExitCode == ExitCodes.Ok, dry.ToString());
        Assert.Contains("Dry run: 2 rows match the 3 items", dry.Stdout, StringComparison.Ordinal);

        var push = await Tool("push", "--csv", "data.csv", "--mapping", "mapping.json", "--resource", Resource);
        Assert.True(push.ExitCode == ExitCodes.Ok, push.ToString());
        var version = Assert.Single(_f.Node.Services.GetRequiredService<DatasetStore>().Versions(Resource));
        Assert.Equal(2L, version.Rows);

        var pull = await Tool("pull", "--resource", Resource, "--csv", "-");
        Assert.True(pull.ExitCode == ExitCodes.Ok, pull.ToString());
        Assert.Contains("91530100MA6K000002", pull.Stdout, StringComparison.Ordinal);
        Assert.Contains("1000.50", pull.Stdout, StringComparison.Ordinal);
    }
}
