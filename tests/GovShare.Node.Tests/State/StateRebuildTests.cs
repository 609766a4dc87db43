using System.Diagnostics;
using GovShare.Node.Catalog;
using GovShare.Node.Hierarchy;
using GovShare.Node.Kernel;
using GovShare.Node.Requests;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace GovShare.Node.Tests.State;

/// <summary>
/// A node's state rebuilt from its change log: on purpose with <c>govshare node rebuild-state</c>
/// (the built binary, as an operator runs it), and at start when the database cannot be opened.
/// Either way the stores hold what they held before.
/// </summary>
public sealed class StateRebuildTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task RebuildStateCommand_OnAStoppedNodesFolder_RebuildsTheSameState()
    {
        var settings = await NodeWithStateAsync();
        var before = await StateCrashTests.StateOfAsync(settings, settings["Node:DataPath"]!);

        var (exit, text) = await RunAsync(settings, "node", "rebuild-state", "--data", settings["Node:DataPath"]!);

        output.WriteLine(text);
        Assert.True(exit == 0, text);
        Assert.Contains("records replayed", text, StringComparison.Ordinal);
        Assert.Single(Directory.GetDirectories(Path.Combine(settings["Node:DataPath"]!, "state-set-aside")));
        Assert.Equal(before, await StateCrashTests.StateOfAsync(settings, settings["Node:DataPath"]!));
    }

    [Fact]
    public async Task UnreadableStateDatabase_IsSetAsideAtStart_AndRebuiltFromTheChangeLog()
    {
        var settings = await NodeWithStateAsync();
        var data = settings["Node:DataPath"]!;
        var before = await StateCrashTests.StateOfAsync(settings, data);
        var database = Path.Combine(data, NodeDataFolder.DatabaseFile);
        var garbage = new byte[new FileInfo(database).Length];
        Random.Shared.NextBytes(garbage);
        await File.WriteAllBytesAsync(database, garbage);

        Assert.Equal(before, await StateCrashTests.StateOfAsync(settings, data));
        Assert.Single(Directory.GetDirectories(Path.Combine(data, "state-set-aside")));
    }

    /// <summary>Issue 22's state — an onward-sharing consent, a complaint, a violation and its escalation — comes back whole from the change log.</summary>
    [Fact]
    public async Task UnreadableStateDatabase_ConsentComplaintAndViolation_RebuiltFromTheChangeLog()
    {
        // The folder outlives the first node (StartOnAsync does not delete it); the PKI's folder holding it is removed at the end.
        var data = TestNode.DefaultSettings(_pki, "530100")["Node:DataPath"]!;
        var provider = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
        var user = _pki.IssueDepartment(name: "Kunming Civil Affairs Bureau");
        var street = _pki.IssueDepartment(name: "Wuhua Street Office");
        var recipient = $"govshare:dept/{street.Division}/{street.CreditCode}";
        OnwardConsent consent;
        Complaint complaint;
        Node.Evaluation.Violation violation;
        await using (var node = await TestNode.StartOnAsync(_pki, "530100", data))
        {
            node.Register(provider);
            node.Register(user);
            node.Register(street);
            Assert.True(node.Services.GetRequiredService<CatalogStore>().Create(ExchangeFixture.Entry(ExchangeFixture.Unconditional, provider, new ShareAttributes(ShareType.Unconditional)), ExchangeFixture.Caller(provider)).Succeeded);
            var consents = node.Services.GetRequiredService<ConsentStore>();
            var applied = consents.Apply(new ConsentApplication(ExchangeFixture.Unconditional, "casework", recipient, "街道办代为核查"), ExchangeFixture.Caller(user));
            Assert.True(applied.Succeeded, applied.Detail);
            consent = consents.Decide(applied.Value!.Id, new ConsentDecisionInput(ConsentDecision.Grant, null), ExchangeFixture.Caller(provider)).Value!;
            var filed = node.Services.GetRequiredService<ComplaintStore>().File(new ComplaintInput(provider.CreditCode, null, "数据更新不及时", "三个月未更新"), ExchangeFixture.Caller(user));
            Assert.True(filed.Succeeded, string.Join("; ", filed.Errors?.Select(e => e.Message) ?? []));
            complaint = filed.Value!;
            var violations = node.Services.GetRequiredService<Node.Evaluation.ViolationStore>();
            var recorded = Assert.Single(violations.Record([new Node.Evaluation.ViolationFinding("test:rebuild", Node.Evaluation.ViolationKind.PurposeMisuse, "purpose-mismatch",
                new DepartmentRef(user.Division, user.CreditCode, user.Name), ExchangeFixture.Unconditional, "a refused pull", [], DateOnly.FromDateTime(DateTime.UtcNow))]));
            Assert.Equal(Node.Evaluation.ViolationChangeOutcome.Ok, violations.ChangeStatus(recorded.Id, Node.Evaluation.ViolationStatus.Escalated, "govshare:operator/530100/op-1", "referred", out var escalated));
            violation = escalated!;
        }

        var database = Path.Combine(data, NodeDataFolder.DatabaseFile);
        var garbage = new byte[new FileInfo(database).Length];
        Random.Shared.NextBytes(garbage);
        await File.WriteAllBytesAsync(database, garbage);

        await using (var node = await TestNode.StartOnAsync(_pki, "530100", data))
        {
            Assert.Single(Directory.GetDirectories(Path.Combine(data, "state-set-aside")));
            var consents = node.Services.GetRequiredService<ConsentStore>();
            Assert.Equal(consent, consents.Get(consent.Id, ExchangeFixture.Caller(user)).Value);
            Assert.True(consents.Allows(ExchangeFixture.Caller(user), ExchangeFixture.Unconditional, "casework", recipient, DateTimeOffset.UtcNow));
            var back = node.Services.GetRequiredService<ComplaintStore>().Get(complaint.Id, ExchangeFixture.Caller(provider)).Value!;
            Assert.Equal((complaint.Number, complaint.Status, complaint.Due), (back.Number, back.Status, back.Due));
            var rebuilt = node.Services.GetRequiredService<Node.Evaluation.ViolationStore>().Get(violation.Id)!;
            Assert.Equal(Node.Evaluation.ViolationStatus.Escalated, rebuilt.Status);
            Assert.Equal(violation.History, rebuilt.History);
        }
    }

    /// <summary>A stopped node's settings after it registered departments, linked a child, made catalog entries and a grant.</summary>
    private async Task<Dictionary<string, string?>> NodeWithStateAsync()
    {
        var settings = TestNode.DefaultSettings(_pki, "530100");
        await using (var node = await TestNode.StartAsync(_pki, configure: s => s["Node:DataPath"] = settings["Node:DataPath"]))
        {
            var provider = _pki.IssueDepartment(name: "Kunming Civil Affairs Bureau");
            var user = _pki.IssueDepartment(name: "Kunming Human Resources Bureau");
            node.Register(provider);
            node.Register(user);
            Assert.Empty(node.Services.GetRequiredService<NodeLinkRegistry>().Link("530102", LinkRole.Child, "https://127.0.0.1:9443/", new string('a', 64), out _));
            var catalog = node.Services.GetRequiredService<CatalogStore>();
            Assert.True(catalog.Create(ExchangeFixture.Entry(ExchangeFixture.Unconditional, provider, new ShareAttributes(ShareType.Unconditional)), ExchangeFixture.Caller(provider)).Succeeded);
            Assert.True(catalog.Create(ExchangeFixture.Entry(ExchangeFixture.Conditional, provider, new ShareAttributes(ShareType.Conditional, Condition: "casework only")), ExchangeFixture.Caller(provider)).Succeeded);
            var today = DateOnly.FromDateTime(DateTime.UtcNow);
            var grant = node.Services.GetRequiredService<ShareRequestStore>().CreateByOperator(new OperatorGrantInput(
                new DepartmentRef(user.Division, user.CreditCode, user.Name), ExchangeFixture.Conditional, [new DecidedItem("name")], "casework", new UsePeriod(today, today.AddDays(30)), "D-1"));
            Assert.True(grant.Succeeded, grant.Detail);
        }

        return settings;
    }

    private static async Task<(int Exit, string Output)> RunAsync(Dictionary<string, string?> settings, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Loopback.GovShareDll());
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        return (process.ExitCode, await stdout + await stderr);
    }
}
