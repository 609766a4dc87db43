using System.Net;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Evaluation;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using GovShare.Node.Tests.Requests;
using static GovShare.Node.Tests.Requests.RequestsHttp;

namespace GovShare.Node.Tests.Catalog;

/// <summary>
/// The office's controls on one real node (issue 22), each on a clock the test sets across the
/// test year's holiday week (Thursday W+1 to Wednesday W+7 off, Saturday W+10 worked, where W is
/// the first Wednesday of May), through the HTTP API only, with the state and the change-log
/// records checked at each step and again after a restart.
/// </summary>
public sealed class OfficeReviewTests
{
    private const string Code = "101002/000001";

    /// <summary>Art. 17: a change of share type waits for the office; the terms in force stay until it approves; a rejection states its reason.</summary>
    [Fact]
    public async Task ShareChange_PendingUntilTheOfficeDecides_RejectedWithReason_ApprovedLate_SurvivesRestart()
    {
        var year = TestYear.Next();
        var w = year.Wednesday;
        await using var env = await EvaluationNode.StartAsync(w.AddDays(-2));
        var police = env.Department("Kunming Public Security Bureau");
        var civil = env.Department("Kunming Civil Affairs Bureau");
        await EvaluationNode.CreateEntryAsync(police, Code, ShareType.Unconditional, UpdateCycle.Daily);
        await EvaluationNode.PushAsync(police, Code, 5);

        // Monday W-2: the police report a change to conditional sharing.
        var reported = await ReportShareChangeAsync(police, ShareType.Conditional, "仅限社会救助业务");
        Assert.Equal("unconditional", reported.GetProperty("share").GetProperty("type").GetString());
        var review = reported.GetProperty("shareReview");
        Assert.Equal("conditional", review.GetProperty("proposed").GetProperty("type").GetString());
        // 30 working days from Monday W-2: six weeks would end Monday W+40; the holiday takes five
        // weekdays and the worked Saturday gives one back, so Friday W+44.
        Assert.Equal(Iso(w.AddDays(44)), review.GetProperty("due").GetString());

        // Meanwhile the terms in force stay: anyone still pulls it.
        Assert.Equal(HttpStatusCode.OK, (await EvaluationNode.PullAsync(civil, Code, "casework")).Status);

        // A rejection without a reason is refused, and changes nothing.
        await ProblemAssert.IsProblemAsync(await Post(env.Operator, $"v1/operator/catalog/{Url}/review/reject", new { }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.True((await GetEntryAsync(police)).TryGetProperty("shareReview", out _));

        env.At(w.AddDays(9));
        var rejected = await Ok(await Post(env.Operator, $"v1/operator/catalog/{Url}/review/reject", new { reason = "No legal basis for restricting population data" }));
        Assert.Equal("unconditional", rejected.GetProperty("share").GetProperty("type").GetString());
        Assert.False(rejected.TryGetProperty("shareReview", out _));
        var decision = rejected.GetProperty("lastShareDecision");
        Assert.False(decision.GetProperty("approved").GetBoolean());
        Assert.False(decision.GetProperty("late").GetBoolean());
        Assert.Equal("No legal basis for restricting population data", decision.GetProperty("reason").GetString());
        Assert.Equal("govshare:operator/530100/bootstrap", decision.GetProperty("by").GetString());
        Assert.Equal(HttpStatusCode.OK, (await EvaluationNode.PullAsync(civil, Code, "casework")).Status);

        // Reported again on Monday W+12; nobody decides within 30 working days: overdue.
        env.At(w.AddDays(12));
        var again = await ReportShareChangeAsync(police, ShareType.Conditional, "仅限社会救助业务");
        var due = DateOnly.Parse(again.GetProperty("shareReview").GetProperty("due").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        env.At(due);
        Assert.False(ReviewOf(await Get(env.Operator, "v1/operator/catalog/deadlines")).GetProperty("overdue").GetBoolean());
        env.At(due.AddDays(3));
        Assert.True(ReviewOf(await Get(env.Operator, "v1/operator/catalog/deadlines")).GetProperty("overdue").GetBoolean());

        // Approved late: the conditional terms apply now, and the pull without a grant is refused.
        var approved = await Ok(await Post(env.Operator, $"v1/operator/catalog/{Url}/review/approve", new { }));
        Assert.Equal("conditional", approved.GetProperty("share").GetProperty("type").GetString());
        Assert.True(approved.GetProperty("lastShareDecision").GetProperty("late").GetBoolean());
        Assert.Equal(HttpStatusCode.Forbidden, (await EvaluationNode.PullAsync(civil, Code, "casework")).Status);
        await ProblemAssert.IsProblemAsync(await Post(env.Operator, $"v1/operator/catalog/{Url}/review/approve", new { }), HttpStatusCode.NotFound, ProblemTypes.NotFound);

        // The change log holds every step, attributed.
        var steps = env.ReadLog(LogKind.Change).Where(c => c.Record.GetProperty("entity").GetString() == "catalog/" + Code).ToList();
        Assert.Equal(["created", "updated", "reviewRejected", "updated", "reviewApproved"], steps.Select(c => c.Record.GetProperty("diff").GetProperty("kind").GetString()));
        Assert.Equal("govshare:operator/530100/bootstrap", steps[^1].Record.GetProperty("caller").GetString());
        Assert.Equal("conditional", steps[^1].Record.GetProperty("diff").GetProperty("entry").GetProperty("share").GetProperty("type").GetString());

        await env.Node.RestartAsync();
        var restarted = await GetEntryAsync(Reconnect(env, police));
        Assert.Equal("conditional", restarted.GetProperty("share").GetProperty("type").GetString());
        Assert.True(restarted.GetProperty("lastShareDecision").GetProperty("approved").GetBoolean());
    }

    /// <summary>
    /// Issue 24: widening the scope to national waits for the office like a share change (the
    /// province scope stays in force meanwhile); a rejection keeps it province with its reason, an
    /// approval makes it national; narrowing back to province applies at once with no review.
    /// </summary>
    [Fact]
    public async Task ScopeWidening_PendingUntilApproved_RejectedStaysProvince_NarrowingAppliesAtOnce()
    {
        var year = TestYear.Next();
        var w = year.Wednesday;
        await using var env = await EvaluationNode.StartAsync(w.AddDays(-2));
        var police = env.Department("Kunming Public Security Bureau");
        await EvaluationNode.CreateEntryAsync(police, Code, ShareType.Unconditional, UpdateCycle.Daily);

        // The police widen the scope: it stays province, the widening waits in the review.
        var reported = await ReportScopeAsync(police, SharingScope.National);
        Assert.Equal("province", ScopeOf(reported));
        var review = reported.GetProperty("shareReview");
        Assert.Equal("national", review.GetProperty("scope").GetString());
        Assert.Equal("unconditional", review.GetProperty("proposed").GetProperty("type").GetString());
        Assert.Equal(review.GetProperty("from").GetString(), review.GetProperty("to").GetString());
        Assert.Equal("province", ScopeOf(await GetEntryAsync(police)));

        // It is in the office's queue like any other review, marked as a widening.
        Assert.Equal("national", ReviewOf(await Get(env.Operator, "v1/operator/catalog/deadlines")).GetProperty("proposedScope").GetString());

        // A write of the entry as read (scope in force: province) keeps the review and its due day.
        var kept = await ReportScopeAsync(police, SharingScope.Province);
        Assert.Equal(review.GetProperty("due").GetString(), kept.GetProperty("shareReview").GetProperty("due").GetString());
        Assert.Equal("national", kept.GetProperty("shareReview").GetProperty("scope").GetString());

        // Rejected: a reason is required; the scope stays province.
        await ProblemAssert.IsProblemAsync(await Post(env.Operator, $"v1/operator/catalog/{Url}/review/reject", new { }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        env.At(w.AddDays(9));
        var rejected = await Ok(await Post(env.Operator, $"v1/operator/catalog/{Url}/review/reject", new { reason = "Not needed by national departments" }));
        Assert.Equal("province", ScopeOf(rejected));
        Assert.False(rejected.TryGetProperty("shareReview", out _));
        var decision = rejected.GetProperty("lastShareDecision");
        Assert.False(decision.GetProperty("approved").GetBoolean());
        Assert.Equal("national", decision.GetProperty("scope").GetString());
        Assert.Equal("Not needed by national departments", decision.GetProperty("reason").GetString());

        // Reported again and approved: national now.
        env.At(w.AddDays(12));
        Assert.Equal("province", ScopeOf(await ReportScopeAsync(police, SharingScope.National)));
        var approved = await Ok(await Post(env.Operator, $"v1/operator/catalog/{Url}/review/approve", new { }));
        Assert.Equal("national", ScopeOf(approved));
        Assert.True(approved.GetProperty("lastShareDecision").GetProperty("approved").GetBoolean());
        Assert.Equal("unconditional", approved.GetProperty("share").GetProperty("type").GetString());

        // Narrowing back to province applies at once and opens no review.
        var narrowed = await ReportScopeAsync(police, SharingScope.Province);
        Assert.Equal("province", ScopeOf(narrowed));
        Assert.False(narrowed.TryGetProperty("shareReview", out _));
        Assert.DoesNotContain((await Get(env.Operator, "v1/operator/catalog/deadlines")).GetProperty("reviews").EnumerateArray(), r => r.GetProperty("resourceCode").GetString() == Code);

        // The change log: the updates that opened a review say so; the decisions carry the scope.
        var steps = env.ReadLog(LogKind.Change).Where(c => c.Record.GetProperty("entity").GetString() == "catalog/" + Code).Select(c => c.Record.GetProperty("diff")).ToList();
        Assert.Equal(["created", "updated", "updated", "reviewRejected", "updated", "reviewApproved", "updated"], steps.Select(d => d.GetProperty("kind").GetString()));
        Assert.Equal("national", steps[1].GetProperty("entry").GetProperty("shareReview").GetProperty("scope").GetString());
        Assert.Contains(steps[1].GetProperty("fields").EnumerateArray(), f => f.GetProperty("path").GetString() == "shareReview");
        Assert.DoesNotContain(steps[2].GetProperty("fields").EnumerateArray(), f => f.GetProperty("path").GetString() == "shareReview");
        Assert.Equal("province", ScopeOf(steps[3].GetProperty("entry")));
        Assert.Equal("national", ScopeOf(steps[5].GetProperty("entry")));
        Assert.Equal("province", ScopeOf(steps[6].GetProperty("entry")));
        Assert.False(steps[6].GetProperty("entry").TryGetProperty("shareReview", out _));
    }

    /// <summary>Art. 11: a recorded change in duties starts 15 working days; one department meets it, the other misses it and the scan makes that a violation.</summary>
    [Fact]
    public async Task DutyChange_StartsFifteenWorkingDays_MetByOne_MissedByTheOther_Violation()
    {
        var year = TestYear.Next();
        var w = year.Wednesday;
        await using var env = await EvaluationNode.StartAsync(w.AddDays(-2));
        var police = env.Department("Kunming Public Security Bureau");
        var civil = env.Department("Kunming Civil Affairs Bureau");
        await EvaluationNode.CreateEntryAsync(police, Code, ShareType.Unconditional, UpdateCycle.Daily);
        await EvaluationNode.CreateEntryAsync(civil, "101002/000002", ShareType.Unconditional, UpdateCycle.Daily);

        // Refusals: no description, a department this node does not know.
        var invalid = await ProblemAssert.IsProblemAsync(await Post(env.Operator, "v1/operator/catalog/duty-changes", new { departments = new[] { police.CreditCode, "91530100MA6K000000" } }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal(2, invalid.GetProperty("errors").GetArrayLength());
        Assert.Empty(await Get(env.Operator, "v1/operator/catalog/duty-changes").ContinueWith(t => t.Result.EnumerateArray().ToList()));

        var recorded = await Ok(await Post(env.Operator, "v1/operator/catalog/duty-changes", new
        {
            description = "Household registration duties move to the public security bureau",
            legalBasis = "云南省人民政府令第 200 号",
            departments = new[] { police.CreditCode, civil.CreditCode },
        }), HttpStatusCode.Created);
        var id = recorded.GetProperty("id").GetString();
        // 15 working days from Monday W-2: Tue, Wed, (holiday), Thu W+8, Fri, Sat W+10 (worked), then two weeks and a Friday: W+23.
        Assert.Equal(Iso(w.AddDays(23)), recorded.GetProperty("due").GetString());

        // The police update their catalog during the adjusted working week; the civil affairs bureau does not.
        env.At(w.AddDays(9));
        await EvaluationNode.MaintainEntryAsync(police, Code, ShareType.Unconditional, UpdateCycle.Daily, "Household registration items added");

        env.At(w.AddDays(23), 18);
        var onDueDay = Deadlines(await Get(env.Operator, "v1/operator/catalog/deadlines"));
        Assert.True(onDueDay[police.CreditCode].GetProperty("met").GetBoolean());
        Assert.False(onDueDay[civil.CreditCode].GetProperty("overdue").GetBoolean());
        Assert.DoesNotContain((await env.ScanAsync()).GetProperty("new").EnumerateArray(), v => v.GetProperty("kind").GetString() == "catalogUpdateMissed");

        env.At(w.AddDays(26));
        var after = Deadlines(await Get(env.Operator, "v1/operator/catalog/deadlines"));
        Assert.True(after[civil.CreditCode].GetProperty("overdue").GetBoolean());
        Assert.False(after[police.CreditCode].GetProperty("overdue").GetBoolean());
        // The department sees its own missed deadline, and only its own.
        var own = Assert.Single((await Get(civil.Client, "v1/catalog/deadlines")).GetProperty("catalogUpdates").EnumerateArray());
        Assert.Equal((id, true), (own.GetProperty("dutyChange").GetString(), own.GetProperty("overdue").GetBoolean()));
        var violation = Assert.Single((await env.ScanAsync()).GetProperty("new").EnumerateArray(), v => v.GetProperty("kind").GetString() == "catalogUpdateMissed");
        Assert.Equal(civil.CreditCode, violation.GetProperty("department").GetProperty("creditCode").GetString());
        Assert.Equal("catalog-update-missed", violation.GetProperty("rule").GetString());
        Assert.Equal(Iso(w.AddDays(24)), violation.GetProperty("occurredOn").GetString());

        // The change log: recorded by the operator, then the police's update (by the police), under the duty change's entity.
        var steps = env.ReadLog(LogKind.Change).Where(c => c.Record.GetProperty("entity").GetString() == "duty-change/" + id).ToList();
        Assert.Equal(["recorded", "catalog-updated"], steps.Select(c => c.Record.GetProperty("diff").GetProperty("action").GetString()));
        Assert.Equal("govshare:operator/530100/bootstrap", steps[0].Record.GetProperty("caller").GetString());
        Assert.EndsWith(police.CreditCode, steps[1].Record.GetProperty("caller").GetString(), StringComparison.Ordinal);

        // A late update afterwards is recorded as late, and the deadlines survive a restart.
        env.At(w.AddDays(27));
        await EvaluationNode.MaintainEntryAsync(civil, "101002/000002", ShareType.Unconditional, UpdateCycle.Daily, "Duties removed");
        await env.Node.RestartAsync();
        using var office = OperatorAfterRestart(env);
        var restarted = Deadlines(await Get(office, "v1/operator/catalog/deadlines"));
        Assert.True(restarted[civil.CreditCode].GetProperty("late").GetBoolean());
        Assert.False(restarted[civil.CreditCode].GetProperty("overdue").GetBoolean());
        Assert.True(restarted[police.CreditCode].GetProperty("met").GetBoolean());
    }

    /// <summary>Art. 16: lateness runs from the stated source-change time, over working days; a malformed or future time is refused.</summary>
    [Fact]
    public async Task Push_StatesSourceChange_LatenessCountedInWorkingDaysFromIt()
    {
        var year = TestYear.Next();
        var w = year.Wednesday;
        await using var env = await EvaluationNode.StartAsync(w.AddDays(16));
        var police = env.Department("Kunming Public Security Bureau");
        await EvaluationNode.CreateEntryAsync(police, Code, ShareType.Unconditional, UpdateCycle.Daily);

        // Changed at the source on Monday W-2: 10 working days end Friday W+16 (the holiday week costs five, the worked Saturday gives one).
        env.At(w.AddDays(16), 17);
        var onTime = await Ok(await PushAsync(police, TestYear.At(w.AddDays(-2), 9).ToString("yyyy-MM-ddTHH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(Iso(w.AddDays(16)), onTime.GetProperty("sourceChange").GetProperty("updateDue").GetString());
        Assert.False(onTime.GetProperty("sourceChange").GetProperty("late").GetBoolean());

        // Changed on Thursday W+1 (a holiday): due Tuesday W+20; pushed on Thursday W+22, late.
        env.At(w.AddDays(22));
        var late = await Ok(await PushAsync(police, TestYear.At(w.AddDays(1), 8).ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(Iso(w.AddDays(20)), late.GetProperty("sourceChange").GetProperty("updateDue").GetString());
        Assert.True(late.GetProperty("sourceChange").GetProperty("late").GetBoolean());

        // Refused: no offset, not a time, in the future; nothing is published.
        await ProblemAssert.IsProblemAsync(await PushAsync(police, "2027-05-06T09:00:00"), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
        await ProblemAssert.IsProblemAsync(await PushAsync(police, "last Tuesday"), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
        await ProblemAssert.IsProblemAsync(await PushAsync(police, env.Clock.Now.AddDays(1).ToString("O", System.Globalization.CultureInfo.InvariantCulture)), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal(2, (await Get(police.Client, $"v1/resources/{Url}/versions")).GetArrayLength());

        // The exchange log carries the stated time on each accepted push.
        var pushes = env.ReadLog(LogKind.Exchange).Where(r => r.Record.GetProperty("kind").GetString() == "push" && r.Record.GetProperty("status").GetInt32() == 200).ToList();
        Assert.Equal(2, pushes.Count);
        Assert.All(pushes, p => Assert.True(p.Record.GetProperty("diff").TryGetProperty("sourceChangedAt", out _)));

        await env.Node.RestartAsync();
        var versions = (await Get(Reconnect(env, police).Client, $"v1/resources/{Url}/versions")).EnumerateArray().OrderBy(v => v.GetProperty("version").GetInt32()).ToList();
        Assert.Equal([false, true], versions.Select(v => v.GetProperty("late").GetBoolean()));
        Assert.Equal(Iso(w.AddDays(20)), versions[1].GetProperty("updateDue").GetString());
    }

    /// <summary>
    /// Art. 16 in the evaluation: the <c>data-late</c> rule measures a push that states its source-change time from that
    /// time (10 working days, across the holiday week), and a push that states none from the push before it (one cycle + 10).
    /// </summary>
    [Fact]
    public async Task Scan_DataLate_MeasuredFromTheStatedSourceChange_ElseFromThePushBefore()
    {
        var year = TestYear.Next();
        var w = year.Wednesday;
        await using var env = await EvaluationNode.StartAsync(w.AddDays(-2));
        var police = env.Department("Kunming Public Security Bureau");
        await EvaluationNode.CreateEntryAsync(police, Code, ShareType.Unconditional, UpdateCycle.Daily);
        await EvaluationNode.PushAsync(police, Code, 5); // Monday W-2, states nothing.

        // Measured from that push, the daily data was due by Monday W+19 (Tuesday W-1 + 10 working days over the holiday
        // week). On Monday W+26 a push states the data changed at the source on Tuesday W+20: due 10 working days later, on time.
        env.At(w.AddDays(26));
        Assert.False((await Ok(await PushAsync(police, Stated(w.AddDays(20), 9)))).GetProperty("sourceChange").GetProperty("late").GetBoolean());
        env.At(w.AddDays(26), 18);
        Assert.Equal(0, (await env.ScanAsync()).GetProperty("detected").GetInt32());

        // On W+40 a push states a change on Thursday W+1 (a holiday): due Tuesday W+20, so it is late, counted from that day.
        env.At(w.AddDays(40));
        var latePush = await Ok(await PushAsync(police, Stated(w.AddDays(1), 8)));
        var found = Assert.Single((await env.ScanAsync()).GetProperty("new").EnumerateArray());
        Assert.Equal(("dataLate", "data-late"), (found.GetProperty("kind").GetString(), found.GetProperty("rule").GetString()));
        Assert.Equal($"data-late:{Code}:{Iso(w.AddDays(20))}", found.GetProperty("key").GetString());
        Assert.Contains($"change at the source on {Iso(w.AddDays(1))}", found.GetProperty("summary").GetString(), StringComparison.Ordinal);
        var evidence = Assert.Single(found.GetProperty("evidence").EnumerateArray());
        Assert.Equal(latePush.GetProperty("exchangeId").GetString(), evidence.GetProperty("exchangeId").GetString());
    }

    private static string Stated(DateOnly day, int hour) => TestYear.At(day, hour).ToString("yyyy-MM-ddTHH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Art. 34, on by default: a resource without a recorded secrecy review is not shared — not pulled, not
    /// compared, not applied for — while its provider still reads its own; once the review is recorded, it is.
    /// </summary>
    [Fact]
    public async Task Pull_WithoutSecrecyReview_Refused_SharedOnceRecorded()
    {
        var year = TestYear.Next();
        var w = year.Wednesday;
        await using var env = await EvaluationNode.StartAsync(w.AddDays(2));
        var police = env.Department("Kunming Public Security Bureau");
        var civil = env.Department("Kunming Civil Affairs Bureau");
        const string Conditional = "101002/000002";
        foreach (var (code, share) in new[] { (Code, new ShareAttributes(ShareType.Unconditional)), (Conditional, new ShareAttributes(ShareType.Conditional, Condition: "For casework only")) })
        {
            var created = await CatalogHttp.Send(police.Client, HttpMethod.Post, "v1/catalog", ExchangeFixture.Entry(code, police.Department, share) with { SecrecyReview = null });
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        }

        await EvaluationNode.PushAsync(police, Code, 5);
        Assert.Equal(HttpStatusCode.OK, (await EvaluationNode.PullAsync(police, Code, "own-use")).Status);

        using (var refused = ExchangeFixture.Pull(Code, "casework"))
        {
            var problem = await ProblemAssert.IsProblemAsync(await civil.Client.SendAsync(refused), HttpStatusCode.Forbidden, ProblemTypes.SecrecyReviewMissing);
            Assert.Contains("Art. 34", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // A comparison reads the data like a pull; an application asks for data not shared yet: both wait for the review too.
        await ProblemAssert.IsProblemAsync(await Compare.CompareApiTests.CompareAsync(civil.Client, Code, ExchangeFixture.People(3), "casework", "key=公民身份号码&items=姓名"), HttpStatusCode.Forbidden, ProblemTypes.SecrecyReviewMissing);
        await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/requests", Application(Conditional, w.AddDays(7), w.AddDays(90), "name")), HttpStatusCode.Forbidden, ProblemTypes.SecrecyReviewMissing);
        Assert.Empty((await Get(civil.Client, "v1/requests?role=user")).EnumerateArray());

        Assert.Equal(2, env.ReadLog(LogKind.Exchange).Count(r => r.Record.GetProperty("kind").GetString() is "pull" or "compare" && r.Record.TryGetProperty("problemType", out var type) && type.GetString() == ProblemTypes.SecrecyReviewMissing));

        // An incomplete review is refused with its path.
        var entry = await GetEntryAsync(police);
        var incomplete = await CatalogHttp.Send(police.Client, HttpMethod.Put, $"v1/catalog/{Url}", WithSecrecyReview(entry, new { reviewedOn = Iso(w.AddDays(1)), reviewer = " " }), ETagOf(entry));
        var invalid = await ProblemAssert.IsProblemAsync(incomplete, HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Contains(Errors(invalid), e => e == ("secrecyReview.reviewer", "required"));

        // On the holiday (W+2) the secrecy office signs off; the entry records it, and the change log with it.
        var recorded = await CatalogHttp.Send(police.Client, HttpMethod.Put, $"v1/catalog/{Url}", WithSecrecyReview(entry, new { reviewedOn = Iso(w.AddDays(2)), reviewer = "市公安局保密办", reference = "保审〔2027〕12号" }), ETagOf(entry));
        Assert.Equal(HttpStatusCode.OK, recorded.StatusCode);
        var change = env.ReadLog(LogKind.Change).Last(c => c.Record.GetProperty("entity").GetString() == "catalog/" + Code);
        Assert.Contains(change.Record.GetProperty("diff").GetProperty("fields").EnumerateArray(), f => f.GetProperty("path").GetString() == "secrecyReview");

        Assert.Equal(HttpStatusCode.OK, (await EvaluationNode.PullAsync(civil, Code, "casework")).Status);
        Assert.NotEqual(HttpStatusCode.Forbidden, (await Compare.CompareApiTests.CompareAsync(civil.Client, Code, ExchangeFixture.People(3), "casework", "key=公民身份号码&items=姓名")).StatusCode);
        await env.Node.RestartAsync();
        Assert.Equal(HttpStatusCode.OK, (await EvaluationNode.PullAsync(Reconnect(env, civil), Code, "casework")).Status);
        Assert.Equal("保审〔2027〕12号", (await GetEntryAsync(Reconnect(env, police))).GetProperty("secrecyReview").GetProperty("reference").GetString());
    }

    private static string Url => ResourceCode.ToUrl(Code);

    /// <summary>A restarted node listens on new ports: a new client for the same department.</summary>
    private static Party Reconnect(EvaluationNode env, Party party) => new(party.Department, env.Node.Client(party.Department.Certificate));

    private static HttpClient OperatorAfterRestart(EvaluationNode env)
    {
        var client = Operator(env.Node);
        client.Timeout = TimeSpan.FromSeconds(120);
        return client;
    }

    private static string Iso(DateOnly day) => day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<JsonElement> GetEntryAsync(Party provider)
    {
        using var response = await provider.Client.GetAsync($"v1/catalog/{Url}");
        var body = await Ok(response);
        return body.Clone();
    }

    private static string ETagOf(JsonElement entry) => "\"" + entry.GetProperty("version").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture) + "\"";

    /// <summary>The provider reads its entry and writes it back with other share attributes; returns the stored entry.</summary>
    private static async Task<JsonElement> ReportShareChangeAsync(Party provider, ShareType type, string condition)
    {
        var entry = await GetEntryAsync(provider);
        var changed = JsonSerializer.Deserialize<CatalogEntry>(entry.GetRawText(), CatalogJson.Options)! with { Share = new ShareAttributes(type, Condition: condition) };
        var response = await CatalogHttp.Send(provider.Client, HttpMethod.Put, $"v1/catalog/{Url}", changed, ETagOf(entry));
        return (await Ok(response)).GetProperty("entry");
    }

    /// <summary>The provider reads its entry and writes it back with another scope; returns the stored entry.</summary>
    private static async Task<JsonElement> ReportScopeAsync(Party provider, SharingScope scope)
    {
        var entry = await GetEntryAsync(provider);
        var changed = JsonSerializer.Deserialize<CatalogEntry>(entry.GetRawText(), CatalogJson.Options)! with { Scope = scope };
        var response = await CatalogHttp.Send(provider.Client, HttpMethod.Put, $"v1/catalog/{Url}", changed, ETagOf(entry));
        return (await Ok(response)).GetProperty("entry").Clone();
    }

    /// <summary>The entry's scope in force: not written when unset, which is province.</summary>
    private static string? ScopeOf(JsonElement entry) => entry.TryGetProperty("scope", out var scope) ? scope.GetString() : "province";

    private static CatalogEntry WithSecrecyReview(JsonElement entry, object review)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(entry.GetRawText())!.AsObject();
        node["secrecyReview"] = JsonSerializer.SerializeToNode(review);
        return JsonSerializer.Deserialize<CatalogEntry>(node.ToJsonString(), CatalogJson.Options)!;
    }

    private static JsonElement ReviewOf(JsonElement deadlines) =>
        Assert.Single(deadlines.GetProperty("reviews").EnumerateArray(), r => r.GetProperty("resourceCode").GetString() == Code);

    private static Dictionary<string, JsonElement> Deadlines(JsonElement deadlines) =>
        deadlines.GetProperty("catalogUpdates").EnumerateArray().ToDictionary(d => d.GetProperty("department").GetProperty("creditCode").GetString()!);

    private static async Task<HttpResponseMessage> PushAsync(Party provider, string sourceChangedAt)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, ExchangeFixture.DataPath(Code, "mode=replace"))
        {
            Content = ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync(ExchangeFixture.People(5))),
        };
        request.Headers.Add(GovShareHeaders.SourceChangedAt, sourceChangedAt);
        return await provider.Client.SendAsync(request);
    }
}
