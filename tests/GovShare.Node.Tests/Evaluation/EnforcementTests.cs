using System.Globalization;
using System.Net;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Hierarchy;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using static GovShare.Node.Tests.Requests.RequestsHttp;

namespace GovShare.Node.Tests.Evaluation;

/// <summary>
/// The office's controls of issue 22, article by article (Art. 25, 27, 29, 32–33, 42), each on a real node
/// whose clock the test sets, over the test year's holiday week (Thursday W+1 to Wednesday W+7 off) and its
/// adjusted working Saturday (W+10). Each step asserts the state through the API and the change-log record it left.
/// </summary>
public sealed class EnforcementTests
{
    private const string Code = "101001/000001";

    /// <summary>Art. 25 + 42: an unanswered share request becomes a violation, notified, escalated when still standing after its day, rectified by the late answer.</summary>
    [Fact]
    public async Task Loop_RequestUnansweredAcrossHoliday_NotifiedEscalatedToLeadingGroupThenRectifiedAndKeptOverRestart()
    {
        var year = Requests.TestYear.Next();
        var w = year.Wednesday;
        await using var env = await EvaluationNode.StartAsync(w, s =>
        {
            s["Evaluation:RectificationWorkingDays"] = "3";
            s["Evaluation:ScanInterval"] = "00:00:00";
        });
        env.At(w);
        var police = env.Department("Kunming Public Security Bureau");
        var civil = env.Department("Kunming Civil Affairs Bureau");
        await EvaluationNode.CreateEntryAsync(police, Code, ShareType.Conditional, UpdateCycle.Yearly);
        var request = await Ok(await Post(civil.Client, "v1/requests", Application(Code, w, w.AddDays(200), "name")), HttpStatusCode.Created);
        var requestId = request.GetProperty("id").GetString()!;
        Assert.Equal(Day(w.AddDays(20)), request.GetProperty("due").GetString());

        // On the due day, to its last minute, nothing is late.
        env.At(w.AddDays(20), 23, 59);
        Assert.Empty(Overdue(await env.ScanAsync()));

        // The day after: one violation of the provider, notified, in its inbox with its day to rectify by.
        env.At(w.AddDays(21), 9);
        var notified = Assert.Single(Overdue(await env.ScanAsync()));
        var id = notified.GetProperty("id").GetString()!;
        Assert.Equal("requestOverdue", notified.GetProperty("kind").GetString());
        Assert.Equal(police.CreditCode, notified.GetProperty("department").GetProperty("creditCode").GetString());
        Assert.Equal(Day(w.AddDays(21)), notified.GetProperty("occurredOn").GetString());
        Assert.Equal(Day(w.AddDays(26)), notified.GetProperty("rectifyBy").GetString()); // Thu, Fri, Mon
        var notice = Assert.Single((await Get(police.Client, "v1/inbox")).GetProperty("notices").EnumerateArray(), n => n.GetProperty("id").GetString() == id);
        Assert.Equal(("notified", Day(w.AddDays(26))), (notice.GetProperty("status").GetString(), notice.GetProperty("rectifyBy").GetString()));
        Assert.Equal(["notified"], Transitions(env, "violation/" + id));

        // Scanned again the same day: nothing new, nothing moved.
        var again = await env.ScanAsync();
        Assert.Empty(Overdue(again));
        Assert.Empty(again.GetProperty("escalated").EnumerateArray());

        // On its rectification day it is not escalated yet; the next scan after it escalates (negative path: deadline missed).
        env.At(w.AddDays(26), 23);
        Assert.Empty((await env.ScanAsync()).GetProperty("escalated").EnumerateArray());
        env.At(w.AddDays(27), 9);
        var escalated = Assert.Single((await env.ScanAsync()).GetProperty("escalated").EnumerateArray());
        Assert.Equal((id, "escalated", "leading-group-report"), (escalated.GetProperty("id").GetString(), escalated.GetProperty("status").GetString(), escalated.GetProperty("escalatedTo").GetString()));
        Assert.Equal(["notified", "escalated"], Transitions(env, "violation/" + id));
        var report = await Get(env.Operator, $"v1/operator/evaluation/report/{year.Year}.json");
        Assert.Equal([id], report.GetProperty("violations").GetProperty("escalatedToLeadingGroup").EnumerateArray().Select(v => v.GetProperty("id").GetString()));
        Assert.Equal("escalated", Assert.Single((await Get(police.Client, "v1/inbox")).GetProperty("notices").EnumerateArray(), n => n.GetProperty("id").GetString() == id).GetProperty("status").GetString());

        // The provider answers, late: the next scan finds the violation no longer standing and closes it.
        await Ok(await Post(police.Client, $"v1/requests/{requestId}/decision", new { outcome = "deny", reasonCode = "purpose.unclear", reasonText = "用途说明不充分" }));
        var rectified = Assert.Single((await env.ScanAsync()).GetProperty("rectified").EnumerateArray(), v => v.GetProperty("id").GetString() == id);
        Assert.Equal("rectified", rectified.GetProperty("status").GetString());
        Assert.Equal(["notified", "escalated", "rectified"], Transitions(env, "violation/" + id));
        Assert.DoesNotContain((await Get(police.Client, "v1/inbox")).GetProperty("notices").EnumerateArray(), n => n.GetProperty("id").GetString() == id);

        // Every step survives a restart; a scan after it records nothing twice.
        await env.Node.RestartAsync();
        using var op = Operator(env.Node);
        var kept = await Get(op, $"v1/operator/evaluation/violations/{id}");
        Assert.Equal(["notified", "escalated", "rectified"], kept.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("to").GetString()));
        Assert.Empty(Overdue(await Ok(await op.PostAsync("v1/operator/evaluation/violations/scan", null))));
    }

    /// <summary>Art. 27 + 42 on a child node, by the schedule alone: an unanswered dispute is notified, then escalated to the parent node's office.</summary>
    [Fact]
    public async Task Loop_ScheduledScansOnChildNode_DisputeUnansweredEscalatedToParentOffice()
    {
        var year = Requests.TestYear.Next();
        var w = year.Wednesday;
        await using var env = await EvaluationNode.StartAsync(w, s =>
        {
            s["Evaluation:RectificationWorkingDays"] = "1";
            s["Evaluation:ScanInterval"] = "00:00:01";
            s["Requests:DisputeWorkingDays"] = "3";
            s["Hierarchy:PublishInterval"] = "00:00:01";
        });

        // The parent: the province, a second real node on loopback, linked both ways with pinned keys.
        var provinceData = Path.Combine(env.Pki.Root, "province-" + Guid.NewGuid().ToString("N"));
        var province = await TestNode.StartOnAsync(env.Pki, "530000", provinceData);
        await using var stopProvince = new AsyncCleanup(() => province.DisposeAsync());
        using var office = Operator(province);
        office.Timeout = TimeSpan.FromSeconds(120);
        Assert.Empty(province.Services.GetRequiredService<NodeLinkRegistry>().Link("530100", LinkRole.Child, env.Node.ExchangeAddress.ToString(), env.Pki.NodeKey("530100"), out _));
        Assert.Empty(env.Node.Services.GetRequiredService<NodeLinkRegistry>().Link("530000", LinkRole.Parent, province.ExchangeAddress.ToString(), env.Pki.NodeKey("530000"), out _));
        env.At(w, 16);
        var police = env.Department("Kunming Public Security Bureau");
        var civil = env.Department("Kunming Civil Affairs Bureau");
        await EvaluationNode.CreateEntryAsync(police, Code, ShareType.Unconditional, UpdateCycle.Yearly);
        await EvaluationNode.PushAsync(police, Code, 5);
        var dispute = await Ok(await Post(civil.Client, "v1/disputes", new { resourceCode = Code, dataVersion = "1", kind = "wrong", description = "出生日期有误" }), HttpStatusCode.Created);
        var disputeId = dispute.GetProperty("id").GetString()!;
        Assert.Equal(Day(w.AddDays(10)), dispute.GetProperty("due").GetString()); // Thu–Wed off, Thu, Fri, the adjusted Saturday

        // The day after the due day the schedule notices it, without anyone scanning.
        env.At(w.AddDays(12), 9); // Monday
        var violation = await UntilAsync(env, v => v.GetProperty("rule").GetString() == "dispute-unanswered");
        var id = violation.GetProperty("id").GetString()!;
        Assert.Equal(("notified", Day(w.AddDays(13))), (violation.GetProperty("status").GetString(), violation.GetProperty("rectifyBy").GetString()));
        Assert.Contains(disputeId, violation.GetProperty("key").GetString(), StringComparison.Ordinal);

        // Still unanswered after its rectification day: a child node escalates to its parent's office.
        env.At(w.AddDays(14), 9);
        var escalated = await UntilAsync(env, v => v.GetProperty("id").GetString() == id && v.GetProperty("status").GetString() == "escalated");
        Assert.Equal("govshare:node/530000", escalated.GetProperty("escalatedTo").GetString());
        Assert.Equal(["schedule", "schedule"], escalated.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("by").GetString()));
        Assert.Equal(["notified", "escalated"], Transitions(env, "violation/" + id));
        var record = env.ReadLog(LogKind.Change).Last(c => c.Record.GetProperty("entity").GetString() == "violation/" + id).Record;
        Assert.Equal(("violation-change", "schedule"), (record.GetProperty("kind").GetString(), record.GetProperty("caller").GetString()));
        Assert.Equal("govshare:node/530000", record.GetProperty("diff").GetProperty("after").GetProperty("escalatedTo").GetString());

        // The child delivers it over the link: the province's office sees it, from the child node, recorded once.
        var delivered = await UntilDeliveredAsync(office, id);
        Assert.Equal(("530100/" + id, "530100"), (delivered.GetProperty("id").GetString(), delivered.GetProperty("child").GetString()));
        var notice = delivered.GetProperty("violation");
        Assert.Equal(("dataInconsistent", "dispute-unanswered", "530100", police.CreditCode, Code, Day(w.AddDays(13))),
            (notice.GetProperty("kind").GetString(), notice.GetProperty("rule").GetString(), notice.GetProperty("departmentDivision").GetString(),
             notice.GetProperty("departmentCreditCode").GetString(), notice.GetProperty("resourceCode").GetString(), notice.GetProperty("rectifyBy").GetString()));
        Assert.Empty((await Get(office, "v1/operator/hierarchy/escalations?child=530300")).EnumerateArray());

        // A repeated delivery (the child retries until it hears back) is answered and records nothing new.
        using var child = province.Client(env.Pki.NodeCertificate("530100"));
        child.Timeout = TimeSpan.FromSeconds(120);
        using (var again = await child.PostAsync("v1/hierarchy/escalations", Json(notice.GetRawText())))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }

        // Refusals: not a linked child; malformed; invalid; a department outside the child's division.
        using var stranger = province.Client(env.Pki.NodeCertificate("530300"));
        stranger.Timeout = TimeSpan.FromSeconds(120);
        await ProblemAssert.IsProblemAsync(await stranger.PostAsync("v1/hierarchy/escalations", Json(notice.GetRawText())), HttpStatusCode.Forbidden, ProblemTypes.NodeNotLinked);
        var provincial = env.Pki.IssueDepartment("530000", name: "Yunnan Civil Affairs Department");
        province.Register(provincial);
        using var department = province.Client(provincial.Certificate);
        department.Timeout = TimeSpan.FromSeconds(120);
        await ProblemAssert.IsProblemAsync(await department.PostAsync("v1/hierarchy/escalations", Json(notice.GetRawText())), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await ProblemAssert.IsProblemAsync(await child.PostAsync("v1/hierarchy/escalations", Json("{\"violationId\":")), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
        var forged = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(notice.GetRawText())!;
        forged["violationId"] = JsonSerializer.SerializeToElement("not-a-violation");
        forged["summary"] = JsonSerializer.SerializeToElement("");
        var invalid = await ProblemAssert.IsProblemAsync(await child.PostAsync("v1/hierarchy/escalations", Json(JsonSerializer.Serialize(forged))), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal(2, invalid.GetProperty("errors").GetArrayLength());
        forged["violationId"] = JsonSerializer.SerializeToElement("vio-0123456789abcdef0123");
        forged["summary"] = JsonSerializer.SerializeToElement("Qujing's police, escalated by Kunming");
        forged["departmentDivision"] = JsonSerializer.SerializeToElement("530300");
        await ProblemAssert.IsProblemAsync(await child.PostAsync("v1/hierarchy/escalations", Json(JsonSerializer.Serialize(forged))), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);

        // After all that, one escalation at the office and one change-log record, by the child node.
        Assert.Single((await Get(office, "v1/operator/hierarchy/escalations")).EnumerateArray());
        var received = LogStore.ForDataFolder(province.DataPath).ReadEntries(LogKind.Change)
            .Where(e => e.Type == LogEntryType.Record).Select(e => JsonDocument.Parse(e.RecordJson).RootElement.Clone())
            .Where(r => r.GetProperty("entity").GetString()!.StartsWith("escalation/", StringComparison.Ordinal)).ToList();
        Assert.Equal([("escalation/530100/" + id, "received", "govshare:node/530100")],
            received.Select(r => (r.GetProperty("entity").GetString(), r.GetProperty("diff").GetProperty("action").GetString(), r.GetProperty("caller").GetString())));

        // Art. 42: the police answer late; the child's next scheduled scan rectifies the violation, and the province's copy follows over the link.
        await Ok(await Post(police.Client, $"v1/disputes/{disputeId}/answer", new { outcome = "rejected", reason = "经核查户籍档案，出生日期无误" }));
        var rectified = await UntilAsync(env, v => v.GetProperty("id").GetString() == id && v.GetProperty("status").GetString() == "rectified");
        var rectifiedAt = rectified.GetProperty("history").EnumerateArray().Last().GetProperty("at").GetDateTimeOffset();
        var followed = await UntilDeliveredAsync(office, id, e => e.GetProperty("violation").TryGetProperty("rectifiedAt", out _));
        Assert.Equal(rectifiedAt, followed.GetProperty("violation").GetProperty("rectifiedAt").GetDateTimeOffset());
        Assert.True(followed.TryGetProperty("updatedAt", out _));
        received = LogStore.ForDataFolder(province.DataPath).ReadEntries(LogKind.Change)
            .Where(e => e.Type == LogEntryType.Record).Select(e => JsonDocument.Parse(e.RecordJson).RootElement.Clone())
            .Where(r => r.GetProperty("entity").GetString()!.StartsWith("escalation/", StringComparison.Ordinal)).ToList();
        Assert.Equal([("escalation/530100/" + id, "received", "govshare:node/530100"), ("escalation/530100/" + id, "rectified", "govshare:node/530100")],
            received.Select(r => (r.GetProperty("entity").GetString(), r.GetProperty("diff").GetProperty("action").GetString(), r.GetProperty("caller").GetString())));

        // The province is the top of the tree: there is no office above to pass anything to (its leading group reads the annual report).
        await ProblemAssert.IsProblemAsync(await Post(office, "v1/operator/hierarchy/escalations/pass-up", new { id = "530100/" + id, reason = "省办无法协调" }), HttpStatusCode.Conflict, ProblemTypes.Conflict);

        // The office's record comes back from the parent's change log alone: its state database unreadable.
        await province.DisposeAsync();
        var database = Path.Combine(provinceData, NodeDataFolder.DatabaseFile);
        var garbage = new byte[new FileInfo(database).Length];
        Random.Shared.NextBytes(garbage);
        await File.WriteAllBytesAsync(database, garbage);
        province = await TestNode.StartOnAsync(env.Pki, "530000", provinceData);
        Assert.Single(Directory.GetDirectories(Path.Combine(provinceData, "state-set-aside")));
        using var restarted = Operator(province);
        restarted.Timeout = TimeSpan.FromSeconds(120);
        var rebuilt = (await Get(restarted, "v1/operator/hierarchy/escalations")).EnumerateArray().Single();
        Assert.Equal(("530100/" + id, rectifiedAt), (rebuilt.GetProperty("id").GetString(), rebuilt.GetProperty("violation").GetProperty("rectifiedAt").GetDateTimeOffset()));
    }

    /// <summary>
    /// Art. 42 up a tree of three: the province's office passes up an escalation from Kunming below it that it cannot
    /// resolve; the province delivers it to the national node over its (generic) parent link, with the origin and the
    /// reason; Kunming's later rectification follows at both offices. Kunming is a real node identity (its own
    /// certificate and pinned key) posting as the sender does; the province and the national stand-in (its own PKI,
    /// trusted by the province for the national node only) are real nodes on loopback. Counties run no node (Art. 21),
    /// so the third level is the nation's.
    /// </summary>
    [Fact]
    public async Task Escalation_PassedUpByAnOfficeThatCannotResolveIt_ReachesItsParent_RectificationFollows()
    {
        using var pki = new TestPki();
        using var nation = TestPki.National();
        var now = DateTimeOffset.UtcNow;
        static void Fast(Dictionary<string, string?> s) => s["Hierarchy:PublishInterval"] = "00:00:01";

        // The national node trusts its own root and, for the province's identities only, the Yunnan root (with its CRL).
        var nationalAnchors = Path.Combine(nation.Root, "anchors-national-and-yunnan.pem");
        await File.WriteAllTextAsync(nationalAnchors, await File.ReadAllTextAsync(nation.RootCertificateFile) + await File.ReadAllTextAsync(pki.RootCertificateFile));
        File.Copy(Path.Combine(pki.Folder.CrlFolder, "root.crl"), Path.Combine(nation.Folder.CrlFolder, "yunnan-root.crl"));
        await using var national = await TestNode.StartAsync(nation, "000000", s =>
        {
            Fast(s);
            s["Node:TrustAnchors"] = nationalAnchors;
        });

        // The province: its own PKI plus the national root for the national node only, and that root's CRL.
        var provinceCrls = Path.Combine(pki.Root, "crl-province");
        Directory.CreateDirectory(provinceCrls);
        foreach (var crl in Directory.GetFiles(pki.Folder.CrlFolder))
        {
            File.Copy(crl, Path.Combine(provinceCrls, Path.GetFileName(crl)));
        }

        File.Copy(Path.Combine(nation.Folder.CrlFolder, "root.crl"), Path.Combine(provinceCrls, "national-root.crl"));
        await using var province = await TestNode.StartAsync(pki, "530000", s =>
        {
            Fast(s);
            s["Node:CrlPath"] = provinceCrls;
            s["Upstream:ParentUrl"] = national.ExchangeAddress.ToString();
            s["Upstream:ParentDivisionCode"] = "000000";
            s["Upstream:ParentKeySha256"] = nation.NodeKey("000000");
            s["Upstream:ParentTrustAnchor"] = nation.RootCertificateFile;
        });
        Assert.Empty(national.Services.GetRequiredService<NodeLinkRegistry>().Link("530000", LinkRole.Child, province.ExchangeAddress.ToString(), pki.NodeKey("530000"), out _));
        Assert.Empty(province.Services.GetRequiredService<NodeLinkRegistry>().Link("530100", LinkRole.Child, "https://localhost:9/", pki.NodeKey("530100"), out _));
        using var provinceOffice = Operator(province);
        provinceOffice.Timeout = TimeSpan.FromSeconds(120);
        using var nationalOffice = Operator(national);
        nationalOffice.Timeout = TimeSpan.FromSeconds(120);
        using var kunming = province.Client(pki.NodeCertificate("530100"));
        kunming.Timeout = TimeSpan.FromSeconds(120);

        // Kunming escalates a violation of one of its (county) departments to the province's office.
        var notice = new EscalationNotice("vio-0a1b2c3d4e5f60718293", "dataLate", "data-late", "530102", "11530102MB0000033X", "101002/000009",
            "Wuhua's household data was due by 2026-11-20 and has not come (Art. 16).", new DateOnly(2026, 11, 21), new DateOnly(2026, 11, 24), now.AddMinutes(-1));
        using (var first = await kunming.PostAsync("v1/hierarchy/escalations", Json(JsonSerializer.Serialize(notice, CatalogJson.Options))))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        }

        var id = "530100/" + notice.ViolationId;

        // Refused: no reason; an escalation the province does not hold.
        await ProblemAssert.IsProblemAsync(await Post(provinceOffice, "v1/operator/hierarchy/escalations/pass-up", new { id }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        await ProblemAssert.IsProblemAsync(await Post(provinceOffice, "v1/operator/hierarchy/escalations/pass-up", new { id = "530100/vio-ffffffffffffffffffff", reason = "x" }), HttpStatusCode.NotFound, ProblemTypes.NotFound);

        // The province's office cannot resolve it and passes it up, once.
        const string Why = "The bureau answers to a ministry; the province's office cannot direct it";
        var passed = await Ok(await Post(provinceOffice, "v1/operator/hierarchy/escalations/pass-up", new { id, reason = Why }));
        Assert.Equal(("govshare:node/000000", "govshare:operator/530000/bootstrap", Why),
            (passed.GetProperty("passedUp").GetProperty("to").GetString(), passed.GetProperty("passedUp").GetProperty("by").GetString(), passed.GetProperty("passedUp").GetProperty("reason").GetString()));
        await ProblemAssert.IsProblemAsync(await Post(provinceOffice, "v1/operator/hierarchy/escalations/pass-up", new { id, reason = Why }), HttpStatusCode.Conflict, ProblemTypes.Conflict);

        // The province delivers it to the national node: the origin is Kunming, the province's reason travels with it.
        var atNational = await UntilDeliveredAsync(nationalOffice, notice.ViolationId);
        Assert.Equal(("530000/530100/" + notice.ViolationId, "530000"), (atNational.GetProperty("id").GetString(), atNational.GetProperty("child").GetString()));
        var travelled = atNational.GetProperty("violation");
        Assert.Equal(("530100", Why, "11530102MB0000033X", notice.Summary),
            (travelled.GetProperty("origin").GetString(), travelled.GetProperty("passUpReason").GetString(), travelled.GetProperty("departmentCreditCode").GetString(), travelled.GetProperty("summary").GetString()));

        // The national node refuses a pass-up whose origin is outside the province, or one without its reason.
        using var provinceNode = TestNode.ClientFor(nation, national.ExchangeAddress, pki.NodeCertificate("530000"));
        provinceNode.Timeout = TimeSpan.FromSeconds(120);
        var outside = notice with { ViolationId = "vio-1111111111111111aaaa", Origin = "520100", PassUpReason = Why };
        await ProblemAssert.IsProblemAsync(await provinceNode.PostAsync("v1/hierarchy/escalations", Json(JsonSerializer.Serialize(outside, CatalogJson.Options))), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        var unexplained = notice with { ViolationId = "vio-1111111111111111bbbb", Origin = "530100" };
        await ProblemAssert.IsProblemAsync(await provinceNode.PostAsync("v1/hierarchy/escalations", Json(JsonSerializer.Serialize(unexplained, CatalogJson.Options))), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);

        // Kunming rectifies: the province's copy follows, and the province passes that on to the national node.
        var rectifiedAt = now.AddMinutes(1);
        using (var update = await kunming.PostAsync("v1/hierarchy/escalations", Json(JsonSerializer.Serialize(notice with { RectifiedAt = rectifiedAt }, CatalogJson.Options))))
        {
            Assert.Equal(HttpStatusCode.OK, update.StatusCode);
        }

        var followed = await UntilDeliveredAsync(nationalOffice, notice.ViolationId, e => e.GetProperty("violation").TryGetProperty("rectifiedAt", out _));
        Assert.Equal(rectifiedAt, followed.GetProperty("violation").GetProperty("rectifiedAt").GetDateTimeOffset());

        static List<(string?, string?, string?)> Steps(TestNode node) => [.. LogStore.ForDataFolder(node.DataPath).ReadEntries(LogKind.Change)
            .Where(e => e.Type == LogEntryType.Record).Select(e => JsonDocument.Parse(e.RecordJson).RootElement.Clone())
            .Where(r => r.GetProperty("entity").GetString()!.StartsWith("escalation/", StringComparison.Ordinal))
            .Select(r => (r.GetProperty("entity").GetString(), r.GetProperty("diff").GetProperty("action").GetString(), r.GetProperty("caller").GetString()))];
        Assert.Equal(
            [("escalation/" + id, "received", "govshare:node/530100"), ("escalation/" + id, "passed-up", "govshare:operator/530000/bootstrap"), ("escalation/" + id, "rectified", "govshare:node/530100")],
            Steps(province));
        Assert.Equal(
            [("escalation/530000/" + id, "received", "govshare:node/530000"), ("escalation/530000/" + id, "rectified", "govshare:node/530000")],
            Steps(national));
    }

    /// <summary>Runs an async clean-up at the end of a scope (the node variable is replaced midway).</summary>
    private sealed class AsyncCleanup(Func<ValueTask> cleanup) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => cleanup();
    }

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    /// <summary>Waits (up to 60 s, the child tries every second) for the escalation of <paramref name="violationId"/> at the parent's office.</summary>
    private static async Task<JsonElement> UntilDeliveredAsync(HttpClient office, string violationId, Func<JsonElement, bool>? match = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var found = (await Get(office, "v1/operator/hierarchy/escalations")).EnumerateArray()
                .Where(e => e.GetProperty("violation").GetProperty("violationId").GetString() == violationId && (match is null || match(e))).ToList();
            if (found.Count > 0)
            {
                return found[0];
            }

            Assert.True(DateTime.UtcNow < deadline, "the child did not deliver the escalation within 60 s");
            await Task.Delay(200);
        }
    }

    /// <summary>Art. 27: the disputed version must exist; the correction is a later push, which the dispute points to.</summary>
    [Fact]
    public async Task Dispute_VersionsCheckedAgainstPushes_CorrectionPointsToItsPush()
    {
        var year = Requests.TestYear.Next();
        var w = year.Wednesday;
        await using var env = await EvaluationNode.StartAsync(w, s => s["Evaluation:ScanInterval"] = "00:00:00");
        env.At(w);
        var police = env.Department("Kunming Public Security Bureau");
        var civil = env.Department("Kunming Civil Affairs Bureau");
        await EvaluationNode.CreateEntryAsync(police, Code, ShareType.Unconditional, UpdateCycle.Yearly);

        // Nothing pushed: no version to dispute. Free text is not a version.
        var none = await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/disputes", Raise("1")), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("dataVersion", "version.unknown")], Errors(none));
        var text = await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/disputes", Raise("v41")), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("dataVersion", "version.format")], Errors(text));

        await EvaluationNode.PushAsync(police, Code, 5);
        using (var pull = ExchangeFixture.Pull(Code, "casework", accept: "application/json"))
        using (var pulled = await civil.Client.SendAsync(pull))
        {
            Assert.Equal(HttpStatusCode.OK, pulled.StatusCode);
            Assert.Equal("1", pulled.Headers.GetValues(GovShareHeaders.DataVersion).Single());
        }

        var ahead = await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/disputes", Raise("2")), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("dataVersion", "version.unknown")], Errors(ahead));
        var raised = await Ok(await Post(civil.Client, "v1/disputes", Raise("1")), HttpStatusCode.Created);
        var id = raised.GetProperty("id").GetString()!;
        Assert.Equal(Day(w.AddDays(20)), raised.GetProperty("due").GetString());

        // The correction must be a push after the disputed data, and one that exists.
        env.At(w.AddDays(8));
        var same = await ProblemAssert.IsProblemAsync(await Post(police.Client, $"v1/disputes/{id}/answer", new { outcome = "corrected", correctingVersion = "1" }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("correctingVersion", "version.notLater")], Errors(same));
        var missing = await ProblemAssert.IsProblemAsync(await Post(police.Client, $"v1/disputes/{id}/answer", new { outcome = "corrected", correctingVersion = "2" }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("correctingVersion", "version.unknown")], Errors(missing));
        Assert.Equal("open", (await Get(civil.Client, $"v1/disputes/{id}")).GetProperty("status").GetString());

        var push = (await EvaluationNode.PushAsync(police, Code, 5)).GetProperty("exchangeId").GetString();
        var answered = await Ok(await Post(police.Client, $"v1/disputes/{id}/answer", new { outcome = "corrected", correctingVersion = "2", reason = "已按户籍档案更正" }));
        Assert.Equal(("corrected", "2", push), (answered.GetProperty("status").GetString(), answered.GetProperty("answer").GetProperty("correctingVersion").GetString(),
            answered.GetProperty("answer").GetProperty("correctingExchangeId").GetString()));
        var logged = env.ReadLog(LogKind.Change).Where(c => c.Record.GetProperty("entity").GetString() == "dispute/" + id).Select(c => c.Record.GetProperty("diff")).ToList();
        Assert.Equal(["open", "corrected"], logged.Select(d => d.GetProperty("to").GetString()));
        Assert.Equal(push, logged[^1].GetProperty("after").GetProperty("answer").GetProperty("correctingExchangeId").GetString());

        // The push the dispute points to is the exchange log's record of that push.
        Assert.Contains(env.ReadLog(LogKind.Exchange), r => r.Record.GetProperty("exchangeId").GetString() == push && r.Record.GetProperty("kind").GetString() == "push");

        // A confirmed dispute is recorded as a violation and, corrected already, closed by the same scan's re-check.
        var scan = await env.ScanAsync();
        var confirmed = Assert.Single(scan.GetProperty("new").EnumerateArray(), v => v.GetProperty("rule").GetString() == "dispute-confirmed");
        Assert.Contains(scan.GetProperty("rectified").EnumerateArray(), v => v.GetProperty("id").GetString() == confirmed.GetProperty("id").GetString());
    }

    /// <summary>Art. 29: a complaint by a department and one of the public through an operator, numbered, due on the calendar, answered; one left unanswered is a violation.</summary>
    [Fact]
    public async Task Complaint_ByDepartmentAndByPublic_NumberedDueAnsweredAndUnansweredBecomesViolation()
    {
        var year = Requests.TestYear.Next();
        var w = year.Wednesday;
        await using var env = await EvaluationNode.StartAsync(w, s =>
        {
            s["Requests:ComplaintWorkingDays"] = "3";
            s["Evaluation:ScanInterval"] = "00:00:00";
        });
        env.At(w, 11);
        var police = env.Department("Kunming Public Security Bureau");
        var civil = env.Department("Kunming Civil Affairs Bureau");
        var health = env.Department("Kunming Health Commission");
        await EvaluationNode.CreateEntryAsync(police, Code, ShareType.Unconditional, UpdateCycle.Yearly);

        // Refusals: about itself, about nobody, a public complainant through a department's certificate.
        var self = await ProblemAssert.IsProblemAsync(await Post(police.Client, "v1/complaints", new { resourceCode = Code, subject = "自查", description = "自查" }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("respondent", "respondent.self")], Errors(self));
        var nobody = await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/complaints", new { respondent = "91530100MA0000000X", subject = "无", description = "无" }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("respondent", "department.unknown")], Errors(nobody));
        await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/complaints", new { resourceCode = Code, subject = "s", description = "d", complainant = new { name = "王五", contact = "1" } }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);

        var filed = await Ok(await Post(civil.Client, "v1/complaints", new { resourceCode = Code, subject = "拒绝共享未说明理由", description = "申请被拒绝，未说明理由" }), HttpStatusCode.Created);
        var byPublic = await Ok(await Post(env.Operator, "v1/operator/complaints", new { respondent = police.CreditCode, subject = "证照地址错误", description = "电子证照上的地址有误", complainant = new { name = "王五", contact = "0871-63610000" } }), HttpStatusCode.Created);
        Assert.Equal(($"TS{year.Year}-00001", "department", Day(w.AddDays(10))), (filed.GetProperty("number").GetString(), filed.GetProperty("channel").GetString(), filed.GetProperty("due").GetString()));
        Assert.Equal(($"TS{year.Year}-00002", "public", "0871-63610000"), (byPublic.GetProperty("number").GetString(), byPublic.GetProperty("channel").GetString(), byPublic.GetProperty("publicContact").GetString()));
        var filedId = filed.GetProperty("id").GetString()!;
        var publicId = byPublic.GetProperty("id").GetString()!;

        // The department complained of sees both, the public complainant's contact withheld; a third department sees neither.
        var toAnswer = (await Get(police.Client, "v1/inbox")).GetProperty("complaintsToAnswer").EnumerateArray().ToList();
        Assert.Equal(new[] { filedId, publicId }.Order(StringComparer.Ordinal), toAnswer.Select(c => c.GetProperty("id").GetString()!).Order(StringComparer.Ordinal));
        Assert.All(toAnswer, c => Assert.False(c.TryGetProperty("publicContact", out var contact) && contact.ValueKind != JsonValueKind.Null));
        await ProblemAssert.IsProblemAsync(await health.Client.GetAsync($"v1/complaints/{filedId}"), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await ProblemAssert.IsProblemAsync(await Post(health.Client, $"v1/complaints/{filedId}/answer", new { outcome = "dismissed", reply = "无" }), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        var noReply = await ProblemAssert.IsProblemAsync(await Post(police.Client, $"v1/complaints/{filedId}/answer", new { outcome = "upheld" }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("reply", "required")], Errors(noReply));

        // One is answered on its due day (the adjusted Saturday after the holiday week), in time.
        env.At(w.AddDays(10), 23, 30);
        var answered = await Ok(await Post(police.Client, $"v1/complaints/{filedId}/answer", new { outcome = "upheld", reply = "已补充拒绝理由" }));
        Assert.Equal(("upheld", false), (answered.GetProperty("status").GetString(), answered.GetProperty("answer").GetProperty("late").GetBoolean()));
        await ProblemAssert.IsProblemAsync(await Post(police.Client, $"v1/complaints/{filedId}/answer", new { outcome = "dismissed", reply = "再答" }), HttpStatusCode.Conflict, ProblemTypes.Conflict);
        Assert.Empty(Rule(await env.ScanAsync(), "complaint-unanswered"));

        // The other is not (negative path: deadline missed): overdue, and a violation of the department complained of.
        env.At(w.AddDays(12), 9);
        Assert.Equal([publicId], (await Get(env.Operator, "v1/operator/complaints?overdue=true")).EnumerateArray().Select(c => c.GetProperty("id").GetString()));
        var violation = Assert.Single(Rule(await env.ScanAsync(), "complaint-unanswered"));
        Assert.Equal(("complaintUnanswered", police.CreditCode), (violation.GetProperty("kind").GetString(), violation.GetProperty("department").GetProperty("creditCode").GetString()));
        var late = await Ok(await Post(police.Client, $"v1/complaints/{publicId}/answer", new { outcome = "dismissed", reply = "地址与登记一致" }));
        Assert.True(late.GetProperty("answer").GetProperty("late").GetBoolean());
        Assert.Contains((await env.ScanAsync()).GetProperty("rectified").EnumerateArray(), v => v.GetProperty("id").GetString() == violation.GetProperty("id").GetString());

        Assert.Equal(["open", "upheld"], Transitions(env, "complaint/" + filedId));
        Assert.Equal(["open", "dismissed"], Transitions(env, "complaint/" + publicId));
        Assert.All(env.ReadLog(LogKind.Change).Where(c => c.Record.GetProperty("entity").GetString()!.StartsWith("complaint/", StringComparison.Ordinal)),
            c => Assert.Equal("complaint-change", c.Record.GetProperty("kind").GetString()));
    }

    /// <summary>Art. 32–33: a purpose on every pull, logged; onward sharing refused until the provider consents for that purpose and recipient, and again once it withdraws.</summary>
    [Fact]
    public async Task Onward_ConsentAppliedGrantedWithdrawn_PullsRefusedUntilConsentedAndAfterWithdrawal()
    {
        var year = Requests.TestYear.Next();
        var w = year.Wednesday;
        await using var env = await EvaluationNode.StartAsync(w, s => s["Evaluation:ScanInterval"] = "00:00:00");
        env.At(w, 11);
        var police = env.Department("Kunming Public Security Bureau");
        var civil = env.Department("Kunming Civil Affairs Bureau");
        var street = env.Department("Wuhua Street Office");
        var other = env.Department("Kunming Health Commission");
        await EvaluationNode.CreateEntryAsync(police, Code, ShareType.Unconditional, UpdateCycle.Yearly);
        await EvaluationNode.PushAsync(police, Code, 5);
        var recipient = $"govshare:dept/{street.Department.Division}/{street.CreditCode}";

        // A purpose on every pull, unconditional ones too; it is logged with the exchange.
        using (var noPurpose = ExchangeFixture.Pull(Code, purpose: null, accept: "application/json"))
        {
            await ProblemAssert.IsProblemAsync(await civil.Client.SendAsync(noPurpose), HttpStatusCode.BadRequest, ProblemTypes.PurposeRequired);
        }


        Assert.Equal(HttpStatusCode.OK, (await EvaluationNode.PullAsync(civil, Code, "casework")).Status);
        Assert.Equal("casework", LastPull(env).GetProperty("purpose").GetString());

        // Providing it on to a third party without consent: refused, logged with the recipient.
        var refused = await OnwardAsync(civil, "casework", recipient);
        await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.Forbidden, ProblemTypes.OnwardSharingNotConsented);
        Assert.Equal((recipient, ProblemTypes.OnwardSharingNotConsented), (LastPull(env).GetProperty("recipient").GetString(), LastPull(env).GetProperty("problemType").GetString()));
        await ProblemAssert.IsProblemAsync(await OnwardAsync(civil, "casework", "not-a-department"), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);

        // The application: refusals first.
        await ProblemAssert.IsProblemAsync(await Post(police.Client, "v1/consents", new { resourceCode = Code, purpose = "casework", recipient, reason = "自用" }), HttpStatusCode.Conflict, ProblemTypes.OwnResource);
        var bad = await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/consents", new { resourceCode = Code, purpose = "casework", recipient = $"govshare:dept/{civil.Department.Division}/{civil.CreditCode}" }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("reason", "required"), ("recipient", "recipient.party")], Errors(bad));
        var applied = await Ok(await Post(civil.Client, "v1/consents", new { resourceCode = Code, purpose = "casework", recipient, reason = "街道办代为核查低保资格" }), HttpStatusCode.Created);
        var id = applied.GetProperty("id").GetString()!;
        Assert.Equal("applied", applied.GetProperty("status").GetString());
        await ProblemAssert.IsProblemAsync(await Post(civil.Client, "v1/consents", new { resourceCode = Code, purpose = "casework", recipient, reason = "再次申请" }), HttpStatusCode.Conflict, ProblemTypes.Conflict);
        Assert.Equal([id], (await Get(police.Client, "v1/inbox")).GetProperty("consentsToAnswer").EnumerateArray().Select(c => c.GetProperty("id").GetString()));
        await ProblemAssert.IsProblemAsync(await Post(street.Client, $"v1/consents/{id}/decision", new { outcome = "grant" }), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await ProblemAssert.IsProblemAsync(await OnwardAsync(civil, "casework", recipient), HttpStatusCode.Forbidden, ProblemTypes.OnwardSharingNotConsented);

        // Granted: that purpose to that recipient only; it survives a restart.
        Assert.Equal("granted", (await Ok(await Post(police.Client, $"v1/consents/{id}/decision", new { outcome = "grant" }))).GetProperty("status").GetString());
        await env.Node.RestartAsync();
        (civil, police) = (Reconnect(env, civil), Reconnect(env, police));
        using var op = Operator(env.Node);
        using (var allowed = await OnwardAsync(civil, "casework", recipient))
        {
            Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        }

        Assert.Equal((recipient, 200), (LastPull(env).GetProperty("recipient").GetString(), LastPull(env).GetProperty("status").GetInt32()));
        await ProblemAssert.IsProblemAsync(await OnwardAsync(civil, "statistics", recipient), HttpStatusCode.Forbidden, ProblemTypes.OnwardSharingNotConsented);
        await ProblemAssert.IsProblemAsync(await OnwardAsync(civil, "casework", $"govshare:dept/{other.Department.Division}/{other.CreditCode}"), HttpStatusCode.Forbidden, ProblemTypes.OnwardSharingNotConsented);

        // Withdrawn by the provider (with a reason; the user cannot withdraw a consent given): refused again.
        await ProblemAssert.IsProblemAsync(await Post(civil.Client, $"v1/consents/{id}/withdraw", new { }), HttpStatusCode.Conflict, ProblemTypes.Conflict);
        var noReason = await ProblemAssert.IsProblemAsync(await Post(police.Client, $"v1/consents/{id}/withdraw", new { }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("reason", "required")], Errors(noReason));
        Assert.Equal("withdrawn", (await Ok(await Post(police.Client, $"v1/consents/{id}/withdraw", new { reason = "联合核查结束" }))).GetProperty("status").GetString());
        await ProblemAssert.IsProblemAsync(await OnwardAsync(civil, "casework", recipient), HttpStatusCode.Forbidden, ProblemTypes.OnwardSharingNotConsented);
        Assert.Equal(["applied", "granted", "withdrawn"], Transitions(env, "consent/" + id));

        // Each refused onward pull is a misuse of the user (Art. 33), with the refused pull as evidence.
        var misuse = Rule(await Ok(await op.PostAsync("v1/operator/evaluation/violations/scan", null)), "onward-not-consented");
        Assert.Equal(5, misuse.Count);
        Assert.All(misuse, v => Assert.Equal(civil.CreditCode, v.GetProperty("department").GetProperty("creditCode").GetString()));
    }

    /// <summary>A new client for a department after a restart (the node listens on new ports).</summary>
    private static Party Reconnect(EvaluationNode env, Party party) => party with { Client = env.Node.Client(party.Department.Certificate) };

    private static object Raise(string version) => new { resourceCode = Code, dataVersion = version, kind = "wrong", description = "出生日期与户籍档案不一致" };

    private static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static List<JsonElement> Overdue(JsonElement scan) => Rule(scan, "request-overdue");

    private static List<JsonElement> Rule(JsonElement scan, string rule) =>
        [.. scan.GetProperty("new").EnumerateArray().Where(v => v.GetProperty("rule").GetString() == rule)];

    /// <summary>The <c>to</c> of each change-log record of <paramref name="entity"/>, in log order.</summary>
    private static List<string?> Transitions(EvaluationNode env, string entity) =>
        [.. env.ReadLog(LogKind.Change).Where(c => c.Record.GetProperty("entity").GetString() == entity).Select(c => c.Record.GetProperty("diff").GetProperty("to").GetString())];

    private static JsonElement LastPull(EvaluationNode env) => env.ReadLog(LogKind.Exchange).Last(r => r.Record.GetProperty("kind").GetString() == "pull").Record;

    private static async Task<HttpResponseMessage> OnwardAsync(Party user, string purpose, string recipient)
    {
        using var request = ExchangeFixture.Pull(Code, purpose, accept: "application/json");
        request.Headers.Add(GovShareHeaders.OnwardRecipient, recipient);
        var response = await user.Client.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    /// <summary>Waits (up to 60 s, the schedule runs every second) for a violation the scheduled scans recorded.</summary>
    private static async Task<JsonElement> UntilAsync(EvaluationNode env, Func<JsonElement, bool> match)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var found = (await Get(env.Operator, "v1/operator/evaluation/violations")).EnumerateArray().Where(match).ToList();
            if (found.Count > 0)
            {
                return found[0];
            }

            Assert.True(DateTime.UtcNow < deadline, "the scheduled scan did not record it within 60 s");
            await Task.Delay(200);
        }
    }
}
