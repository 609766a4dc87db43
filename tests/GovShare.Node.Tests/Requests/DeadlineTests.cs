using System.Globalization;
using System.Net;
using GovShare.Contract;
using GovShare.Node.Tests.Functional;
using static GovShare.Node.Tests.Requests.RequestsHttp;

namespace GovShare.Node.Tests.Requests;

/// <summary>Deadlines on a node whose clock the test sets, over a test calendar year with a holiday week and an adjusted working Saturday.</summary>
public sealed class DeadlineTests : IDisposable
{
    private static readonly string[] NoSuchItem = ["no_such"];
    private static readonly string[] RowKeys = ["530102199001011234"];
    private static readonly string[] BirthDate = ["出生日期"];
    private readonly TestPki _pki = new();
    private readonly TestYear _year = TestYear.Next();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task Request_SubmittedBeforeHolidayWeek_DueTenWorkingDaysLaterThenOverdue()
    {
        var wednesday = _year.Wednesday;
        var clock = new ManualClock(TestYear.At(wednesday, 10));
        await using var node = await StartNodeAsync(_pki, _year, clock);
        var (police, provider) = Department(node, clock: clock);
        var (_, user) = Department(node, clock: clock);
        await CreateEntryAsync(provider, police);

        var request = await Ok(await Post(user, "v1/requests", Application(Conditional, wednesday, wednesday.AddDays(200), "full_name")), HttpStatusCode.Created);
        var id = request.GetProperty("id").GetString();

        // Thu–Wed off, Thu (1) Fri (2) the adjusted Saturday (3), Mon–Fri (4–8), Mon (9), Tue (10):
        // twenty calendar days, where weekends alone would give fourteen.
        Assert.Equal(wednesday.AddDays(20).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), request.GetProperty("due").GetString());
        Assert.False(request.GetProperty("dueProvisional").GetBoolean());

        // Answering on the due day is in time, to its last minute (China time).
        clock.Now = TestYear.At(wednesday.AddDays(20), 23, 59);
        Assert.False((await Get(user, $"v1/requests/{id}")).GetProperty("overdue").GetBoolean());
        using var op = Operator(node);
        Assert.Equal(0, (await Get(op, "v1/operator/requests/overdue")).GetArrayLength());

        clock.Now = TestYear.At(wednesday.AddDays(21), 0, 1);
        Assert.True((await Get(user, $"v1/requests/{id}")).GetProperty("overdue").GetBoolean());
        var toDecide = (await Get(provider, "v1/inbox")).GetProperty("toDecide")[0];
        Assert.True(toDecide.GetProperty("overdue").GetBoolean());
        Assert.Equal([id], (await Get(op, "v1/operator/requests/overdue")).EnumerateArray().Select(r => r.GetProperty("id").GetString()));

        // A late answer is still taken, and marked late.
        var decided = await Ok(await Post(provider, $"v1/requests/{id}/decision", new { outcome = "deny", reasonCode = "purpose.unclear", reasonText = "用途说明不充分" }));
        Assert.True(decided.GetProperty("decision").GetProperty("late").GetBoolean());
        Assert.False(decided.GetProperty("overdue").GetBoolean());
        Assert.Equal(0, (await Get(op, "v1/operator/requests/overdue")).GetArrayLength());
    }

    [Fact]
    public async Task Request_PeriodEndsUndecided_ExpiredWithChangeRecord()
    {
        var wednesday = _year.Wednesday;
        var clock = new ManualClock(TestYear.At(wednesday, 10));
        await using var node = await StartNodeAsync(_pki, _year, clock);
        var (police, provider) = Department(node, clock: clock);
        var (_, user) = Department(node, clock: clock);
        await CreateEntryAsync(provider, police);
        var id = (await Ok(await Post(user, "v1/requests", Application(Conditional, wednesday, wednesday.AddDays(2), "full_name")), HttpStatusCode.Created)).GetProperty("id").GetString();

        clock.Now = TestYear.At(wednesday.AddDays(3), 9);
        Assert.Equal("expired", (await Get(user, $"v1/requests/{id}")).GetProperty("status").GetString());
        await ProblemAssert.IsProblemAsync(await Post(provider, $"v1/requests/{id}/decision", new { outcome = "approve" }), HttpStatusCode.Conflict, ProblemTypes.Conflict);
        using var op = Operator(node);
        Assert.Equal(["submitted", "expired"], (await Get(op, $"v1/operator/requests/changes?subject={id}")).EnumerateArray().Select(c => c.GetProperty("to").GetString()));
    }

    [Fact]
    public async Task Grant_EndsWithinTenWorkingDays_InInboxThenNotEffectiveAfterEndDate()
    {
        var wednesday = _year.Wednesday;
        var clock = new ManualClock(TestYear.At(wednesday, 10));
        await using var node = await StartNodeAsync(_pki, _year, clock);
        var (police, provider) = Department(node, clock: clock);
        var (_, user) = Department(node, clock: clock);
        await CreateEntryAsync(provider, police);
        var id = (await Ok(await Post(user, "v1/requests", Application(Conditional, wednesday, wednesday.AddDays(40), "full_name")), HttpStatusCode.Created)).GetProperty("id").GetString();
        var grant = (await Ok(await Post(provider, $"v1/requests/{id}/decision", new { outcome = "approve", validity = new { from = wednesday, to = wednesday.AddDays(21) } })))
            .GetProperty("decision").GetProperty("grantId").GetString();

        // Last day W+21 is the 11th working day after W: not yet "ending".
        Assert.Empty((await Get(user, "v1/inbox")).GetProperty("grantsEnding").EnumerateArray());
        clock.Now = TestYear.At(wednesday.AddDays(8), 10);
        Assert.Equal([grant], (await Get(user, "v1/inbox")).GetProperty("grantsEnding").EnumerateArray().Select(g => g.GetProperty("id").GetString()));

        var store = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Node.Requests.GrantStore>(node.Services);
        var civil = (await Get(user, $"v1/grants/{grant}")).GetProperty("userCreditCode").GetString()!;
        Assert.NotNull(store.Effective(civil, Conditional, "social-assistance", TestYear.At(wednesday.AddDays(21), 23, 59)));
        Assert.Null(store.Effective(civil, Conditional, "social-assistance", TestYear.At(wednesday.AddDays(22), 0, 0)));
    }

    [Fact]
    public async Task Dispute_WholeLife_DueBySettingThenOverdueThenCorrectedByNamedVersion()
    {
        var wednesday = _year.Wednesday;
        var clock = new ManualClock(TestYear.At(wednesday, 16));
        await using var node = await StartNodeAsync(_pki, _year, clock, s => s["Requests:DisputeWorkingDays"] = "3");
        var (police, provider) = Department(node, clock: clock);
        var (_, user) = Department(node, clock: clock);
        var (_, stranger) = Department(node, clock: clock);
        // The exchange fixture's entry, so that the provider can push the versions a dispute names (Art. 27).
        var source = new Evaluation.Party(police, provider);
        await Evaluation.EvaluationNode.CreateEntryAsync(source, Conditional, Node.Catalog.ShareType.Conditional, Node.Catalog.UpdateCycle.Yearly);
        await Evaluation.EvaluationNode.PushAsync(source, Conditional, 3);

        await ProblemAssert.IsProblemAsync(await Post(provider, "v1/disputes", new { resourceCode = Conditional, dataVersion = "1", kind = "wrong", description = "自查" }), HttpStatusCode.Conflict, ProblemTypes.OwnResource);
        var missing = await ProblemAssert.IsProblemAsync(await Post(user, "v1/disputes", new { resourceCode = Conditional, items = NoSuchItem }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("dataVersion", "required"), ("kind", "required"), ("description", "required"), ("items[0].item", "item.unknown")], Errors(missing));

        var raised = await Ok(await Post(user, "v1/disputes", new
        {
            resourceCode = Conditional,
            dataVersion = "1",
            kind = "wrong",
            rowKeys = RowKeys,
            items = BirthDate,
            description = "出生日期与户籍档案不一致",
        }), HttpStatusCode.Created);
        var id = raised.GetProperty("id").GetString();
        Assert.Equal("open", raised.GetProperty("status").GetString());
        Assert.Equal(["birth_date"], raised.GetProperty("items").EnumerateArray().Select(i => i.GetString()));

        // Three working days: the holiday week is skipped, the adjusted Saturday counts.
        Assert.Equal(_year.Wednesday.AddDays(10).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), raised.GetProperty("due").GetString());
        Assert.Equal([id], (await Get(provider, "v1/inbox")).GetProperty("disputesToAnswer").EnumerateArray().Select(d => d.GetProperty("id").GetString()));
        Assert.Equal([id], (await Get(user, "v1/inbox")).GetProperty("disputesRaised").EnumerateArray().Select(d => d.GetProperty("id").GetString()));

        using var op = Operator(node);
        Assert.Single((await Get(op, "v1/operator/disputes")).EnumerateArray());
        Assert.Empty((await Get(op, "v1/operator/disputes?overdue=true")).EnumerateArray());
        clock.Now = TestYear.At(wednesday.AddDays(11), 9);
        Assert.True((await Get(user, $"v1/disputes/{id}")).GetProperty("overdue").GetBoolean());
        Assert.Equal([id], (await Get(op, "v1/operator/disputes?overdue=true")).EnumerateArray().Select(d => d.GetProperty("id").GetString()));

        // The answer: only the provider; corrected needs a new version.
        await ProblemAssert.IsProblemAsync(await Post(stranger, $"v1/disputes/{id}/answer", new { outcome = "rejected", reason = "无" }), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        var same = await ProblemAssert.IsProblemAsync(await Post(provider, $"v1/disputes/{id}/answer", new { outcome = "corrected", correctingVersion = "1" }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("correctingVersion", "version.notLater")], Errors(same));
        var noReason = await ProblemAssert.IsProblemAsync(await Post(provider, $"v1/disputes/{id}/answer", new { outcome = "rejected" }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("reason", "required")], Errors(noReason));

        await Evaluation.EvaluationNode.PushAsync(source, Conditional, 3);
        var answered = await Ok(await Post(provider, $"v1/disputes/{id}/answer", new { outcome = "corrected", correctingVersion = "2", reason = "已按户籍档案更正" }));
        Assert.Equal("corrected", answered.GetProperty("status").GetString());
        Assert.Equal("1", answered.GetProperty("dataVersion").GetString());
        Assert.Equal("2", answered.GetProperty("answer").GetProperty("correctingVersion").GetString());
        Assert.True(answered.GetProperty("answer").GetProperty("late").GetBoolean());
        await ProblemAssert.IsProblemAsync(await Post(provider, $"v1/disputes/{id}/answer", new { outcome = "rejected", reason = "再答" }), HttpStatusCode.Conflict, ProblemTypes.Conflict);
        Assert.Empty((await Get(op, "v1/operator/disputes")).EnumerateArray());
        Assert.Equal([("open", null), ("corrected", "open")], (await Get(op, $"v1/operator/requests/changes?subject={id}")).EnumerateArray()
            .Select(c => (c.GetProperty("to").GetString(), c.TryGetProperty("from", out var f) ? f.GetString() : null)));
    }
}
