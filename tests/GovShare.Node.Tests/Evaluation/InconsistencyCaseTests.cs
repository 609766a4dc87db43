using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Compare;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using static GovShare.Node.Tests.Requests.RequestsHttp;

namespace GovShare.Node.Tests.Evaluation;

/// <summary>
/// Issue 23's inconsistency cases on a real node whose clock the test sets: a department compares its copy
/// with the provider's data (known differences), opens a case from that comparison (a dispute of kind
/// <c>inconsistent</c> naming the comparison), the provider sees it in its inbox, pushes a corrected version
/// and answers; a second case left unanswered across the test year's holiday week becomes an Art. 42
/// "data inconsistent" violation at the next scan. Every refusal is a problem and writes nothing.
/// </summary>
public sealed class InconsistencyCaseTests
{
    private const string Code = "101001/000001";
    private const string OtherCode = "101001/000002";
    private const string Purpose = "casework";

    [Fact]
    public async Task Case_FromOwnComparison_InboxCorrectedByNewVersion_UnansweredOneBecomesViolationAcrossHoliday()
    {
        var year = Requests.TestYear.Next();
        var w = year.Wednesday;
        await using var env = await EvaluationNode.StartAsync(w, s => s["Evaluation:ScanInterval"] = "00:00:00");
        env.At(w);
        var police = env.Department("Kunming Public Security Bureau");
        var civil = env.Department("Kunming Civil Affairs Bureau");
        var health = env.Department("Kunming Health Commission");
        await EvaluationNode.CreateEntryAsync(police, Code, ShareType.Unconditional, UpdateCycle.Yearly);
        await EvaluationNode.PushAsync(police, Code, 1000);
        await EvaluationNode.CreateEntryAsync(police, OtherCode, ShareType.Unconditional, UpdateCycle.Yearly);
        await EvaluationNode.PushAsync(police, OtherCode, 5);

        // The comparison: 90 names and 36 birth dates differ (CompareApiTests' known differences).
        using var compared = await CompareApiTests.CompareAsync(civil.Client, Code, CompareApiTests.UserCopy(), Purpose, "key=公民身份号码&items=姓名,birth_date");
        Assert.Equal(HttpStatusCode.OK, compared.StatusCode);
        var answer = await compared.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(108, answer.GetProperty("differingRows").GetInt64());
        var comparison = answer.GetProperty("exchangeId").GetString()!;
        Assert.Equal(1, answer.GetProperty("version").GetInt32());
        var changesBefore = env.ReadLog(LogKind.Change).Count;

        // Refusals: each a problem, none writes anything.
        var unknown = await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/disputes", Case("01ZZZZZZZZZZZZZZZZZZZZZZZZ", "name")), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        Assert.Contains("no answered comparison", unknown.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var other = await ProblemAssert.IsProblemAsync(await Post(health.Client, "v1/disputes", Case(comparison, "name")), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        Assert.Contains("another department", other.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var notCompared = await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/disputes", Case(comparison, "income")), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("items", "item.notCompared")], Errors(notCompared));
        var tooMany = await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/disputes", Case(comparison, "name", [.. Enumerable.Range(0, 1001).Select(ExchangeFixture.IdNumber)])), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Contains(("rowKeys", "tooMany"), Errors(tooMany));
        var malformed = await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/disputes", Case(comparison, "name", ["  ", new string('9', 300)])), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("rowKeys[0]", "rowKey.invalid"), ("rowKeys[1]", "rowKey.invalid")], Errors(malformed));
        var noKeys = await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/disputes", Case(comparison, "name", [])), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("rowKeys", "required")], Errors(noKeys));
        var noComparison = await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/disputes", Case(null, "name")), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("comparisonId", "required")], Errors(noComparison));
        var otherResource = await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/disputes", Case(comparison, "name", code: OtherCode)), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("comparisonId", "comparison.otherResource")], Errors(otherResource));
        var wrongKind = await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/disputes", new { resourceCode = Code, dataVersion = "1", kind = "wrong", description = "x", comparisonId = comparison }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("comparisonId", "comparison.notInconsistent")], Errors(wrongKind));
        Assert.Equal(changesBefore, env.ReadLog(LogKind.Change).Count);
        Assert.Empty((await Get(police.Client, "v1/inbox")).GetProperty("disputesToAnswer").EnumerateArray());

        // The case, from the department's own comparison, on items it compared: the provider sees it in its inbox.
        var opened = await Ok(await Post(civil.Client, "v1/disputes", Case(comparison, "name", [ExchangeFixture.IdNumber(10), ExchangeFixture.IdNumber(20)])), HttpStatusCode.Created);
        var id = opened.GetProperty("id").GetString()!;
        Assert.Equal(("inconsistent", comparison, Day(w.AddDays(20))), (opened.GetProperty("kind").GetString(), opened.GetProperty("comparisonId").GetString(), opened.GetProperty("due").GetString()));
        var toAnswer = Assert.Single((await Get(police.Client, "v1/inbox")).GetProperty("disputesToAnswer").EnumerateArray());
        Assert.Equal((id, comparison), (toAnswer.GetProperty("id").GetString(), toAnswer.GetProperty("comparisonId").GetString()));
        // The office sees it among the node's open cases.
        Assert.Contains((await Get(env.Operator, "v1/operator/disputes")).EnumerateArray(), d => d.GetProperty("id").GetString() == id);

        // A second case from the same comparison, never answered.
        var ignored = (await Ok(await Post(civil.Client, "v1/disputes", Case(comparison, "birth_date", [ExchangeFixture.IdNumber(25)])), HttpStatusCode.Created)).GetProperty("id").GetString()!;

        // The provider corrects by a new version and answers; the case points to that push.
        env.At(w.AddDays(6));
        var push = (await EvaluationNode.PushAsync(police, Code, 1000)).GetProperty("exchangeId").GetString();
        var corrected = await Ok(await Post(police.Client, $"v1/disputes/{id}/answer", new { outcome = "corrected", correctingVersion = "2", reason = "已按户籍档案更正" }));
        Assert.Equal(("corrected", "2", push), (corrected.GetProperty("status").GetString(), corrected.GetProperty("answer").GetProperty("correctingVersion").GetString(),
            corrected.GetProperty("answer").GetProperty("correctingExchangeId").GetString()));
        Assert.DoesNotContain((await Get(police.Client, "v1/inbox")).GetProperty("disputesToAnswer").EnumerateArray(), d => d.GetProperty("id").GetString() == id);

        // A case names the version its comparison saw: version 2 exists now, but the comparison compared version 1.
        var otherVersion = await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/disputes", Case(comparison, "name", version: "2")), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("dataVersion", "comparison.otherVersion")], Errors(otherVersion));

        // Every step in the change log, the case's comparison with it.
        var logged = env.ReadLog(LogKind.Change).Where(c => c.Record.GetProperty("entity").GetString() == "dispute/" + id).Select(c => c.Record.GetProperty("diff")).ToList();
        Assert.Equal(["open", "corrected"], logged.Select(d => d.GetProperty("to").GetString()));
        Assert.Equal(comparison, logged[0].GetProperty("after").GetProperty("comparisonId").GetString());

        // The second case: due W+20 (ten working days over the holiday week); on its due day nothing is late.
        env.At(w.AddDays(20), 23, 59);
        Assert.Empty(Rule(await env.ScanAsync(), "dispute-unanswered"));

        // The day after, it is an Art. 42 "data inconsistent" violation of the provider, with the comparison as evidence, in its inbox.
        env.At(w.AddDays(21), 9);
        var violation = Assert.Single(Rule(await env.ScanAsync(), "dispute-unanswered"));
        Assert.Equal(("dataInconsistent", police.CreditCode), (violation.GetProperty("kind").GetString(), violation.GetProperty("department").GetProperty("creditCode").GetString()));
        Assert.Contains(ignored, violation.GetProperty("summary").GetString(), StringComparison.Ordinal);
        Assert.Contains(comparison, violation.GetProperty("summary").GetString(), StringComparison.Ordinal);
        Assert.Contains(violation.GetProperty("evidence").EnumerateArray(), e => e.TryGetProperty("exchangeId", out var x) && x.GetString() == comparison);
        var violationId = violation.GetProperty("id").GetString()!;
        Assert.Contains((await Get(police.Client, "v1/inbox")).GetProperty("notices").EnumerateArray(), n => n.GetProperty("id").GetString() == violationId);

        // Both cases survive a restart as they were.
        await env.Node.RestartAsync();
        var after = env.Node.Client(civil.Department.Certificate);
        Assert.Equal(("corrected", comparison), await StatusOf(after, id));
        Assert.Equal(("open", comparison), await StatusOf(after, ignored));
    }

    private static async Task<(string?, string?)> StatusOf(HttpClient client, string id)
    {
        var dispute = await Get(client, $"v1/disputes/{id}");
        return (dispute.GetProperty("status").GetString(), dispute.GetProperty("comparisonId").GetString());
    }

    private static object Case(string? comparison, string item, string[]? keys = null, string code = Code, string version = "1") => new
    {
        resourceCode = code,
        dataVersion = version,
        kind = "inconsistent",
        items = new[] { item },
        rowKeys = keys ?? [ExchangeFixture.IdNumber(10)],
        description = "比对发现姓名与本单位登记不一致",
        comparisonId = comparison,
    };

    private static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static List<JsonElement> Rule(JsonElement scan, string rule) =>
        [.. scan.GetProperty("new").EnumerateArray().Where(v => v.GetProperty("rule").GetString() == rule)];
}
