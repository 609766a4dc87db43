using System.Net;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Functional;
using static GovShare.Node.Tests.Requests.RequestsHttp;

namespace GovShare.Node.Tests.Evaluation;

/// <summary>Each violation of Art. 42 in its own scenario on a real node, its evidence checked against the stored log records.</summary>
public sealed class ViolationScanTests
{
    private const string Code = "101001/000001";

    [Fact]
    public async Task Scan_DepartmentWithoutCatalog_CatalogNotCompiledOnceThenRectified()
    {
        await using var env = await EvaluationNode.StartAsync();
        var y = env.Year.Year;
        var idle = env.Department("Kunming Statistics Bureau");
        var police = env.Department("Kunming Public Security Bureau");
        await EvaluationNode.CreateEntryAsync(police, Code, ShareType.Unconditional, UpdateCycle.Yearly);

        // Within its 15 working days nothing is due yet.
        env.At(new DateOnly(y, 1, 20));
        Assert.Equal(0, (await env.ScanAsync()).GetProperty("detected").GetInt32());

        env.At(new DateOnly(y, 2, 1));
        var violation = Assert.Single((await env.ScanAsync()).GetProperty("new").EnumerateArray());
        Assert.Equal("catalogNotCompiled", violation.GetProperty("kind").GetString());
        Assert.Equal(idle.CreditCode, violation.GetProperty("department").GetProperty("creditCode").GetString());
        Assert.Equal("notified", violation.GetProperty("status").GetString());

        // The evidence is the change log as far as the scan read it: it holds the police entry, nothing by the idle department.
        var evidence = Assert.Single(violation.GetProperty("evidence").EnumerateArray());
        Assert.Equal("change", evidence.GetProperty("log").GetString());
        var changes = env.ReadLog(LogKind.Change);
        Assert.Contains(changes, c => c.Sequence <= evidence.GetProperty("sequence").GetInt64() && c.Record.GetProperty("entity").GetString() == "catalog/" + Code);
        Assert.DoesNotContain(changes, c => c.Record.GetProperty("caller").GetString()!.EndsWith(idle.CreditCode, StringComparison.Ordinal));

        // Rectification is due 15 working days after notification (1 February: 22 February).
        Assert.Equal($"{y}-02-22", violation.GetProperty("rectifyBy").GetString());

        // Scanned again: found again, not recorded again.
        var again = await env.ScanAsync();
        Assert.Equal((1, 0), (again.GetProperty("detected").GetInt32(), again.GetProperty("recorded").GetInt32()));

        var id = violation.GetProperty("id").GetString();
        env.At(new DateOnly(y, 2, 23));
        Assert.True((await Get(env.Operator, $"v1/operator/evaluation/violations/{id}")).GetProperty("rectificationOverdue").GetBoolean());
        var escalated = await Ok(await Post(env.Operator, $"v1/operator/evaluation/violations/{id}/status", new { status = "escalated", note = "referred to the supervising office" }));
        Assert.Equal("escalated", escalated.GetProperty("status").GetString());
        Assert.False(escalated.GetProperty("rectificationOverdue").GetBoolean());
        var rectified = await Ok(await Post(env.Operator, $"v1/operator/evaluation/violations/{id}/status", new { status = "rectified" }));
        Assert.Equal(["notified", "escalated", "rectified"], rectified.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("to").GetString()));

        // Rectified is final.
        var refused = await ProblemAssert.IsProblemAsync(await Post(env.Operator, $"v1/operator/evaluation/violations/{id}/status", new { status = "escalated" }), HttpStatusCode.Conflict, ProblemTypes.ViolationTransitionRefused);
        Assert.Equal("rectified", refused.GetProperty("violationStatus").GetString());
        Assert.Single(await Get(env.Operator, "v1/operator/evaluation/violations?status=rectified").ContinueWith(t => t.Result.EnumerateArray().ToList()));
    }

    [Fact]
    public async Task Scan_EntryNotMaintainedForAYear_CatalogStaleWithItsLastChange()
    {
        await using var env = await EvaluationNode.StartAsync();
        var y = env.Year.Year;
        var police = env.Department("Kunming Public Security Bureau");
        await EvaluationNode.CreateEntryAsync(police, Code, ShareType.NotShared, UpdateCycle.Yearly);
        env.At(new DateOnly(y, 12, 20));
        Assert.DoesNotContain((await env.ScanAsync()).GetProperty("new").EnumerateArray(), v => v.GetProperty("rule").GetString() == "catalog-stale");

        env.At(new DateOnly(y + 1, 1, 6));
        var stale = (await env.ScanAsync()).GetProperty("new").EnumerateArray().Single(v => v.GetProperty("rule").GetString() == "catalog-stale");
        Assert.Equal("catalogNotUpdated", stale.GetProperty("kind").GetString());
        Assert.Equal(Code, stale.GetProperty("resourceCode").GetString());
        Assert.Equal($"{y + 1}-01-05", stale.GetProperty("occurredOn").GetString());
        var evidence = Assert.Single(stale.GetProperty("evidence").EnumerateArray());
        var record = Stored(env, LogKind.Change, evidence);
        Assert.Equal("catalog/" + Code, record.GetProperty("entity").GetString());
        Assert.Equal("created", record.GetProperty("diff").GetProperty("kind").GetString());
    }

    [Fact]
    public async Task Scan_NoPushWithinCyclePlusTenWorkingDays_DataLateWithTheLastPush()
    {
        await using var env = await EvaluationNode.StartAsync();
        var y = env.Year.Year;
        var police = env.Department("Kunming Public Security Bureau");
        await EvaluationNode.CreateEntryAsync(police, Code, ShareType.Unconditional, UpdateCycle.Monthly);
        env.At(new DateOnly(y, 1, 5));
        var first = (await EvaluationNode.PushAsync(police, Code, 10)).GetProperty("exchangeId").GetString();

        // Due 5 February + 10 working days = 19 February.
        env.At(new DateOnly(y, 2, 19), 23, 30);
        Assert.Equal(0, (await env.ScanAsync()).GetProperty("detected").GetInt32());
        env.At(new DateOnly(y, 2, 20), 9);
        var late = Assert.Single((await env.ScanAsync()).GetProperty("new").EnumerateArray());
        Assert.Equal(("dataLate", "data-late", Code), (late.GetProperty("kind").GetString(), late.GetProperty("rule").GetString(), late.GetProperty("resourceCode").GetString()));
        Assert.Equal(police.CreditCode, late.GetProperty("department").GetProperty("creditCode").GetString());
        var since = Assert.Single(late.GetProperty("evidence").EnumerateArray());
        Assert.Equal(first, since.GetProperty("exchangeId").GetString());
        var push = Stored(env, LogKind.Exchange, since);
        Assert.Equal(("push", Code, first), (push.GetProperty("kind").GetString(), push.GetProperty("resourceCode").GetString(), push.GetProperty("exchangeId").GetString()));

        // The data comes late: the same spell, now closed, is not recorded again.
        env.At(new DateOnly(y, 2, 24));
        await EvaluationNode.PushAsync(police, Code, 12);
        var again = await env.ScanAsync();
        Assert.Equal((1, 0), (again.GetProperty("detected").GetInt32(), again.GetProperty("recorded").GetInt32()));
    }

    [Fact]
    public async Task Scan_DisputeConfirmedAndDisputeUnanswered_DataInconsistentWithLedgerAndPush()
    {
        await using var env = await EvaluationNode.StartAsync();
        var y = env.Year.Year;
        var police = env.Department("Kunming Public Security Bureau");
        var civil = env.Department("Kunming Civil Affairs Bureau");
        await EvaluationNode.CreateEntryAsync(police, Code, ShareType.Unconditional, UpdateCycle.Yearly);
        await EvaluationNode.CreateEntryAsync(civil, "302001/000001", ShareType.NotShared, UpdateCycle.Yearly);
        env.At(new DateOnly(y, 1, 5));
        var version1 = (await EvaluationNode.PushAsync(police, Code, 10)).GetProperty("exchangeId").GetString();

        env.At(new DateOnly(y, 1, 6));
        var confirmed = (await Ok(await Post(civil.Client, "v1/disputes", new { resourceCode = Code, dataVersion = "1", kind = "wrong", description = "出生日期有误" }), HttpStatusCode.Created)).GetProperty("id").GetString();
        var ignored = (await Ok(await Post(civil.Client, "v1/disputes", new { resourceCode = Code, dataVersion = "1", kind = "doubtful", description = "姓名存疑" }), HttpStatusCode.Created)).GetProperty("id").GetString();
        env.At(new DateOnly(y, 1, 8));
        await EvaluationNode.PushAsync(police, Code, 10);
        await Ok(await Post(police.Client, $"v1/disputes/{confirmed}/answer", new { outcome = "corrected", correctingVersion = "2", reason = "已更正" }));

        // The second dispute was due on 20 January (10 working days).
        env.At(new DateOnly(y, 1, 21));
        var found = (await env.ScanAsync()).GetProperty("new").EnumerateArray().ToList();
        Assert.Equal(2, found.Count);
        Assert.All(found, v => Assert.Equal("dataInconsistent", v.GetProperty("kind").GetString()));
        Assert.All(found, v => Assert.Equal(police.CreditCode, v.GetProperty("department").GetProperty("creditCode").GetString()));

        var yes = found.Single(v => v.GetProperty("rule").GetString() == "dispute-confirmed");
        Assert.Contains(confirmed!, yes.GetProperty("key").GetString(), StringComparison.Ordinal);
        var ledger = await Get(env.Operator, $"v1/operator/requests/changes?subject={confirmed}");
        var fromLedger = yes.GetProperty("evidence").EnumerateArray().Where(e => e.GetProperty("log").GetString() == "request-changes").Select(e => e.GetProperty("sequence").GetInt64());
        Assert.Equal(ledger.EnumerateArray().Select(c => c.GetProperty("sequence").GetInt64()), fromLedger);
        var pushed = yes.GetProperty("evidence").EnumerateArray().Single(e => e.GetProperty("log").GetString() == "exchange");
        Assert.Equal(version1, Stored(env, LogKind.Exchange, pushed).GetProperty("exchangeId").GetString());

        var no = found.Single(v => v.GetProperty("rule").GetString() == "dispute-unanswered");
        Assert.Contains(ignored!, no.GetProperty("key").GetString(), StringComparison.Ordinal);
        Assert.Equal($"{y}-01-21", no.GetProperty("occurredOn").GetString());
    }

    [Fact]
    public async Task Scan_PurposeMismatchAndRepeatedNoGrant_PurposeMisuseWithTheRefusedPulls()
    {
        await using var env = await EvaluationNode.StartAsync();
        var y = env.Year.Year;
        var police = env.Department("Kunming Public Security Bureau");
        var civil = env.Department("Kunming Civil Affairs Bureau");
        var health = env.Department("Kunming Health Commission");
        var tax = env.Department("Kunming Tax Bureau");
        foreach (var (party, code) in new[] { (civil, "302001/000001"), (health, "302002/000001"), (tax, "302003/000001") })
        {
            await EvaluationNode.CreateEntryAsync(party, code, ShareType.NotShared, UpdateCycle.Yearly);
        }

        await EvaluationNode.CreateEntryAsync(police, Code, ShareType.Conditional, UpdateCycle.Yearly);
        env.At(new DateOnly(y, 1, 5));
        await EvaluationNode.PushAsync(police, Code, 10);
        var id = (await Ok(await Post(civil.Client, "v1/requests", ApplicationFor("social-assistance", Code, new DateOnly(y, 1, 5), new DateOnly(y, 12, 31), "name")), HttpStatusCode.Created)).GetProperty("id").GetString();
        await Ok(await Post(police.Client, $"v1/requests/{id}/decision", new { outcome = "approve" }));

        env.At(new DateOnly(y, 1, 6));
        Assert.Equal(HttpStatusCode.OK, (await EvaluationNode.PullAsync(civil, Code, "social-assistance")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await EvaluationNode.PullAsync(civil, Code, "tax-audit")).Status);

        // Health tries three times within the window; tax only twice.
        for (var day = 6; day <= 8; day++)
        {
            env.At(new DateOnly(y, 1, day), 15);
            Assert.Equal(HttpStatusCode.Forbidden, (await EvaluationNode.PullAsync(health, Code, "survey")).Status);
        }

        env.At(new DateOnly(y, 1, 8), 16);
        Assert.Equal(HttpStatusCode.Forbidden, (await EvaluationNode.PullAsync(tax, Code, "audit")).Status);
        env.At(new DateOnly(y, 1, 20), 16);
        Assert.Equal(HttpStatusCode.Forbidden, (await EvaluationNode.PullAsync(tax, Code, "audit")).Status);

        var found = (await env.ScanAsync()).GetProperty("new").EnumerateArray().ToList();
        Assert.All(found, v => Assert.Equal("purposeMisuse", v.GetProperty("kind").GetString()));
        Assert.Equal(["purpose-mismatch", "repeated-no-grant"], found.Select(v => v.GetProperty("rule").GetString()).Order(StringComparer.Ordinal));

        var mismatch = found.Single(v => v.GetProperty("rule").GetString() == "purpose-mismatch");
        Assert.Equal(civil.CreditCode, mismatch.GetProperty("department").GetProperty("creditCode").GetString());
        var refusal = Stored(env, LogKind.Exchange, Assert.Single(mismatch.GetProperty("evidence").EnumerateArray()));
        Assert.Equal((ProblemTypes.PurposeMismatch, "tax-audit"), (refusal.GetProperty("problemType").GetString(), refusal.GetProperty("purpose").GetString()));

        var repeated = found.Single(v => v.GetProperty("rule").GetString() == "repeated-no-grant");
        Assert.Equal(health.CreditCode, repeated.GetProperty("department").GetProperty("creditCode").GetString());
        var attempts = repeated.GetProperty("evidence").EnumerateArray().Select(e => Stored(env, LogKind.Exchange, e)).ToList();
        Assert.Equal(3, attempts.Count);
        Assert.All(attempts, a => Assert.Equal(ProblemTypes.NoGrant, a.GetProperty("problemType").GetString()));
        Assert.All(attempts, a => Assert.EndsWith(health.CreditCode, a.GetProperty("caller").GetString(), StringComparison.Ordinal));
    }

    /// <summary>The stored record an evidence reference points at; its exchange id must match.</summary>
    private static JsonElement Stored(EvaluationNode env, LogKind log, JsonElement evidence)
    {
        Assert.Equal(LogEntry.LogName(log), evidence.GetProperty("log").GetString());
        Assert.Equal(env.Node.Division, evidence.GetProperty("node").GetString());
        var sequence = evidence.GetProperty("sequence").GetInt64();
        var (_, _, record) = env.ReadLog(log).Single(r => r.Sequence == sequence);
        Assert.Equal(evidence.GetProperty("exchangeId").GetString(), record.GetProperty("exchangeId").GetString());
        return record;
    }
}
