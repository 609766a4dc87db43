using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using GovShare.Cli.Commands;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Hierarchy;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Cli;
using GovShare.Node.Tests.Functional;
using GovShare.Node.Tests.Requests;
using Microsoft.Extensions.DependencyInjection;
using static GovShare.Node.Tests.Requests.RequestsHttp;

namespace GovShare.Node.Tests.Evaluation;

/// <summary>
/// Art. 40 on three real nodes on loopback (the province and two prefectures, real TLS, real LiteDB, one clock the
/// test sets): the prefectures submit their signed annual reports over the parent link, the province's report is the
/// sum of theirs and its own — recomputed here from the three nodes' exchange logs —, a prefecture that does not
/// report by 15 January is listed as due, then late, and gets a <c>report-late</c> violation the day after.
/// </summary>
public sealed class ReportTreeTests
{
    private const string Code = "101001/000001";

    [Fact]
    public async Task Reports_PrefecturesSubmitSigned_ProvinceSumsThemWithItsOwn_LateOneViolatedTheDayAfterTheDeadline_TamperedRefused()
    {
        var year = TestYear.Next();
        var y = year.Year;
        using var pki = new TestPki();
        var clock = new ManualClock(TestYear.At(new DateOnly(y, 3, 2), 9));
        var now = DateTimeOffset.UtcNow;
        foreach (var division in new[] { "530000", "530100", "530300" })
        {
            // Node certificates that outlive the simulated year and the January after it (the nodes check them on their clock).
            File.Delete(Path.Combine(pki.Folder.IssuedFolder, $"node-{division}.key"));
            File.Delete(Path.Combine(pki.Folder.IssuedFolder, $"node-{division}.crt"));
            pki.Folder.IssueNode(division, now.AddMinutes(-5), clock.Now.AddDays(800), ["localhost"], [IPAddress.Loopback]);
        }

        foreach (var ca in pki.Folder.AllAuthorities())
        {
            pki.Folder.PublishCrl(ca, now, TimeSpan.FromDays(900));
        }

        var holidays = Path.Combine(pki.Root, "holidays");
        Directory.CreateDirectory(holidays);
        await File.WriteAllTextAsync(Path.Combine(holidays, $"{y}.json"), year.Json());
        Task<TestNode> Start(string division, string submitInterval) => TestNode.StartAsync(pki, division, s =>
        {
            s["Calendar:HolidayFolder"] = holidays;
            s["Evaluation:ScanInterval"] = "00:00:00";
            s["Evaluation:ReportSubmitInterval"] = submitInterval;
        }, services: s => s.AddSingleton<TimeProvider>(clock));

        // Kunming submits by itself (the schedule, every second here); Qujing's schedule is off: it will be late.
        await using var province = await Start("530000", "00:00:00");
        await using var kunming = await Start("530100", "00:00:01");
        await using var qujing = await Start("530300", "00:00:00");
        foreach (var (child, node) in new[] { ("530100", kunming), ("530300", qujing) })
        {
            Assert.Empty(province.Services.GetRequiredService<NodeLinkRegistry>().Link(child, LinkRole.Child, node.ExchangeAddress.ToString(), pki.NodeKey(child), out _));
            Assert.Empty(node.Services.GetRequiredService<NodeLinkRegistry>().Link("530000", LinkRole.Parent, province.ExchangeAddress.ToString(), pki.NodeKey("530000"), out _));
        }

        // A year of activity in each node: entries, pushes, pulls.
        Party Department(TestNode node, string name)
        {
            var department = pki.IssueDepartment(node.Division, name: name, notAfter: clock.Now.AddDays(800));
            node.Register(department);
            var client = node.Client(department.Certificate);
            client.Timeout = TimeSpan.FromSeconds(120);
            return new Party(department, client);
        }

        var kmPolice = Department(kunming, "Kunming Public Security Bureau");
        var kmCivil = Department(kunming, "Kunming Civil Affairs Bureau");
        var qjPolice = Department(qujing, "Qujing Public Security Bureau");
        var ynCivil = Department(province, "Yunnan Civil Affairs Department");
        var provincial = Department(province, "Yunnan Statistics Bureau"); // compiles no catalog: a violation notice of its own
        await EvaluationNode.CreateEntryAsync(kmPolice, Code, ShareType.Unconditional, UpdateCycle.Yearly);
        await EvaluationNode.CreateEntryAsync(qjPolice, Code, ShareType.Unconditional, UpdateCycle.Yearly);
        await EvaluationNode.CreateEntryAsync(ynCivil, "102001/000001", ShareType.Unconditional, UpdateCycle.Yearly);
        await EvaluationNode.PushAsync(kmPolice, Code, 5);
        Assert.Equal(HttpStatusCode.OK, (await EvaluationNode.PullAsync(kmCivil, Code, "social-assistance")).Status);
        clock.Now = TestYear.At(new DateOnly(y, 6, 10), 9);
        await EvaluationNode.PushAsync(qjPolice, Code, 3);
        await EvaluationNode.PushAsync(qjPolice, Code, 4);
        await EvaluationNode.PushAsync(ynCivil, "102001/000001", 2);
        Assert.Equal(HttpStatusCode.OK, (await EvaluationNode.PullAsync(kmCivil, Code, "social-assistance")).Status);

        // 10 January of the next year: Kunming's schedule submits; Qujing's report is due (a reminder in the office's view).
        clock.Now = TestYear.At(new DateOnly(y + 1, 1, 10), 9);
        using var office = Operator(province);
        office.Timeout = TimeSpan.FromSeconds(120);
        var kmReceived = await UntilAsync(async () => (await Get(office, $"v1/operator/evaluation/reports/{y}/received")).EnumerateArray().SingleOrDefault(r => r.GetProperty("child").GetString() == "530100"));
        Assert.Equal((Day(new DateOnly(y + 1, 1, 15)), false, pki.NodeKey("530100")),
            (kmReceived.GetProperty("dueBy").GetString(), kmReceived.GetProperty("late").GetBoolean(), kmReceived.GetProperty("signerKeySha256").GetString()));
        var report = await Get(office, $"v1/operator/evaluation/reports/{y}");
        var missing = Assert.Single(report.GetProperty("missing").EnumerateArray());
        Assert.Equal(("530300", "due", 5), (missing.GetProperty("node").GetString(), missing.GetProperty("status").GetString(), missing.GetProperty("daysLeft").GetInt32()));
        Assert.Equal(Day(new DateOnly(y + 1, 3, 1).AddDays(-1)), report.GetProperty("dueBy").GetString()); // the province's own, nationally: the end of February (a leap year too)

        // Kunming sees where its own report stands at the parent.
        using var kmOffice = Operator(kunming);
        kmOffice.Timeout = TimeSpan.FromSeconds(120);
        var kmStatus = await Get(kmOffice, $"v1/operator/evaluation/reports/{y}/submission");
        Assert.Equal(("530000", 5, "530100"), (kmStatus.GetProperty("parent").GetString(), kmStatus.GetProperty("daysLeft").GetInt32(), kmStatus.GetProperty("atParent").GetProperty("child").GetString()));

        // The last minute of 15 January is in time; the day after, Qujing is late: a violation of the child node.
        clock.Now = TestYear.At(new DateOnly(y + 1, 1, 15), 23, 59);
        Assert.DoesNotContain((await Scan(office)).GetProperty("new").EnumerateArray(), v => v.GetProperty("rule").GetString() == "report-late");
        clock.Now = TestYear.At(new DateOnly(y + 1, 1, 16), 9);
        var late = Assert.Single((await Scan(office)).GetProperty("new").EnumerateArray(), v => v.GetProperty("rule").GetString() == "report-late");
        Assert.Equal(("reportLate", "530300", "node/530300", Day(new DateOnly(y + 1, 1, 16)), "notified"),
            (late.GetProperty("kind").GetString(), late.GetProperty("department").GetProperty("divisionCode").GetString(), late.GetProperty("department").GetProperty("creditCode").GetString(),
             late.GetProperty("occurredOn").GetString(), late.GetProperty("status").GetString()));
        missing = Assert.Single((await Get(office, $"v1/operator/evaluation/reports/{y}")).GetProperty("missing").EnumerateArray());
        Assert.Equal(("530300", "late"), (missing.GetProperty("node").GetString(), missing.GetProperty("status").GetString()));

        // Qujing's operator submits late, through the CLI; the province records it as late, and the next scan rectifies the violation.
        Assert.Equal(ExitCodes.Ok, await GovShareCommand.Create().Parse(["office", "reports", "submit", y.ToString(CultureInfo.InvariantCulture), "--data", qujing.DataPath, "--management", qujing.ManagementAddress.ToString()]).InvokeAsync());
        var qjReceived = (await Get(office, $"v1/operator/evaluation/reports/{y}/received")).EnumerateArray().Single(r => r.GetProperty("child").GetString() == "530300");
        Assert.True(qjReceived.GetProperty("late").GetBoolean());
        Assert.Contains((await Scan(office)).GetProperty("rectified").EnumerateArray(), v => v.GetProperty("id").GetString() == late.GetProperty("id").GetString());
        Assert.Equal(ExitCodes.Ok, await GovShareCommand.Create().Parse(["office", "reports", "show", y.ToString(CultureInfo.InvariantCulture), "--data", province.DataPath, "--management", province.ManagementAddress.ToString()]).InvokeAsync());

        // The province's report: its own plus both children's, equal to what the three exchange logs hold for the year.
        report = await Get(office, $"v1/operator/evaluation/reports/{y}");
        Assert.Empty(report.GetProperty("missing").EnumerateArray());
        Assert.Equal(["530100", "530300"], report.GetProperty("children").EnumerateArray().Select(c => c.GetProperty("node").GetString()));
        var total = report.GetProperty("total");
        var logs = new[] { province, kunming, qujing }.Select(n => FromLog(n, y)).ToList();
        Assert.Equal((logs.Sum(l => l.Pushes), logs.Sum(l => l.PushRows)), (total.GetProperty("pushes").GetProperty("exchanges").GetInt64(), total.GetProperty("pushes").GetProperty("rows").GetInt64()));
        Assert.Equal((logs.Sum(l => l.Pulls), logs.Sum(l => l.PullRows)), (total.GetProperty("pulls").GetProperty("exchanges").GetInt64(), total.GetProperty("pulls").GetProperty("rows").GetInt64()));
        Assert.Equal((4L, 14L, 2L), (logs.Sum(l => l.Pushes), logs.Sum(l => l.PushRows), logs.Sum(l => l.Pulls)));
        Assert.Equal(3, total.GetProperty("catalog").GetProperty("resources").GetInt32());
        var months = report.GetProperty("months").EnumerateArray().ToDictionary(m => m.GetProperty("month").GetInt32(), m => m.GetProperty("pushes").GetInt64());
        Assert.Equal((1L, 3L, 4L), (months[3], months[6], months.Values.Sum()));
        Assert.Equal(1, report.GetProperty("own").GetProperty("summary").GetProperty("pushes").GetProperty("exchanges").GetInt64());

        // Tampering, as the linked Kunming node itself: every fault refused with its own problem, nothing recorded.
        var stored = await Get(office, $"v1/operator/evaluation/reports/{y}/received/530100");
        var submission = JsonSerializer.Deserialize<SignedSubmission>(stored.GetProperty("submission").GetRawText(), CatalogJson.Options)!;
        using var kmNode = province.Client(pki.NodeCertificate("530100"));
        kmNode.Timeout = TimeSpan.FromSeconds(120);
        var path = $"v1/hierarchy/reports/{y}";
        using (var again = await kmNode.PutAsync(path, Json(submission)))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode); // the same signed report again: answered, nothing new
        }

        var payload = Convert.FromBase64String(submission.Payload);
        payload[payload.Length / 2] ^= 0x01;
        await ProblemAssert.IsProblemAsync(await kmNode.PutAsync(path, Json(submission with { Payload = Convert.ToBase64String(payload) })), HttpStatusCode.BadRequest, ProblemTypes.ReportSignatureInvalid);
        var original = Convert.FromBase64String(submission.Payload);
        var signedAt = submission.SignedAt;
        using (var qujingKey = pki.NodeCertificate("530300"))
        {
            // Signed with the other child's node key, naming Kunming.
            await ProblemAssert.IsProblemAsync(await kmNode.PutAsync(path, Json(SignedSubmission.Sign(GovShare.Node.Evaluation.TreeReports.Kind, "530100", $"{y}", original, qujingKey, signedAt))), HttpStatusCode.Forbidden, ProblemTypes.ReportSignerRefused);
        }

        using (var newKey = pki.IssueAnotherNodeCertificate("530100", "node-530100-rekeyed"))
        {
            // A valid node certificate of Kunming, but not the key the province's link pins.
            var refused = await ProblemAssert.IsProblemAsync(await kmNode.PutAsync(path, Json(SignedSubmission.Sign(GovShare.Node.Evaluation.TreeReports.Kind, "530100", $"{y}", original, newKey, signedAt))), HttpStatusCode.Forbidden, ProblemTypes.ReportSignerRefused);
            Assert.Contains("pins", refused.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        var department = pki.IssueDepartment("530100", name: "Kunming Statistics Bureau", notAfter: clock.Now.AddDays(800));
        await ProblemAssert.IsProblemAsync(await kmNode.PutAsync(path, Json(SignedSubmission.Sign(GovShare.Node.Evaluation.TreeReports.Kind, "530100", $"{y}", original, department.Certificate, signedAt))), HttpStatusCode.Forbidden, ProblemTypes.ReportSignerRefused);
        using (var kmKey = pki.NodeCertificate("530100"))
        {
            // Properly signed by Kunming, but about another year than sent for; and a report of another year signed as this one.
            await ProblemAssert.IsProblemAsync(await kmNode.PutAsync($"v1/hierarchy/reports/{y - 1}", Json(SignedSubmission.Sign(GovShare.Node.Evaluation.TreeReports.Kind, "530100", $"{y}", original, kmKey, signedAt))), HttpStatusCode.BadRequest, ProblemTypes.ReportMismatch);
            await ProblemAssert.IsProblemAsync(await kmNode.PutAsync($"v1/hierarchy/reports/{y - 1}", Json(SignedSubmission.Sign(GovShare.Node.Evaluation.TreeReports.Kind, "530100", $"{y - 1}", original, kmKey, signedAt))), HttpStatusCode.BadRequest, ProblemTypes.ReportMismatch);
        }

        await ProblemAssert.IsProblemAsync(await kmNode.PutAsync(path, new StringContent("{\"kind\":", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);

        // Kunming's signed report sent by Qujing's node; and by a department: refused.
        using var qjNode = province.Client(pki.NodeCertificate("530300"));
        qjNode.Timeout = TimeSpan.FromSeconds(120);
        await ProblemAssert.IsProblemAsync(await qjNode.PutAsync(path, Json(submission)), HttpStatusCode.BadRequest, ProblemTypes.ReportMismatch);
        await ProblemAssert.IsProblemAsync(await provincial.Client.PutAsync(path, Json(submission)), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);

        // After all that: two reports, each received once, each a change-log record naming the child node.
        var records = LogStore.ForDataFolder(province.DataPath).ReadEntries(LogKind.Change)
            .Where(e => e.Type == LogEntryType.Record).Select(e => JsonDocument.Parse(e.RecordJson).RootElement.Clone())
            .Where(r => r.GetProperty("entity").GetString()!.StartsWith(ChildReportsPrefix, StringComparison.Ordinal)).ToList();
        Assert.Equal([($"report/530100/{y}", "received", "govshare:node/530100"), ($"report/530300/{y}", "received", "govshare:node/530300")],
            records.Select(r => (r.GetProperty("entity").GetString(), r.GetProperty("diff").GetProperty("action").GetString(), r.GetProperty("caller").GetString())));

        // Art. 38: the office publishes the evaluation with its advice (the CLI); final once published; only finished years, with advice.
        var published = await Publish(province, y, "--advice", "各州市共享目录更新须及时；曲靖市年度报告逾期报送，请于下年度按时报送。");
        Assert.Equal(ExitCodes.Ok, published);
        Assert.Equal(ExitCodes.Failed, await Publish(province, y, "--advice", "again"));
        Assert.Equal(ExitCodes.Failed, await Publish(province, y + 1, "--advice", "this year is not over"));
        Assert.Equal(ExitCodes.Usage, await Publish(province, y - 1));
        await ProblemAssert.IsProblemAsync(await Post(office, $"v1/operator/evaluation/reports/{y - 1}/publish", new { advice = "" }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        var publication = await Get(office, $"v1/operator/evaluation/reports/{y}/published");
        Assert.Equal(("govshare:operator/530000/bootstrap", 2), (publication.GetProperty("publishedBy").GetString(), publication.GetProperty("report").GetProperty("children").GetArrayLength()));

        // Each department reads through its certificate: the published report with only its own scorecard, its own notices.
        var view = await Get(ynCivil.Client, $"v1/evaluation/published/{y}");
        Assert.Equal(publication.GetProperty("advice").GetString(), view.GetProperty("advice").GetString());
        Assert.Equal(total.GetRawText(), view.GetProperty("total").GetRawText());
        Assert.Equal(ynCivil.CreditCode, view.GetProperty("yourScorecard").GetProperty("department").GetProperty("creditCode").GetString());
        Assert.DoesNotContain(provincial.CreditCode, view.GetRawText(), StringComparison.Ordinal);
        var notices = (await Get(provincial.Client, "v1/evaluation/notices")).EnumerateArray().ToList();
        Assert.Contains(notices, n => n.GetProperty("rule").GetString() == "catalog-not-compiled");
        Assert.All(notices, n => Assert.Equal(provincial.CreditCode, n.GetProperty("department").GetProperty("creditCode").GetString()));
        Assert.DoesNotContain((await Get(ynCivil.Client, "v1/evaluation/notices")).EnumerateArray(), n => n.GetProperty("department").GetProperty("creditCode").GetString() != ynCivil.CreditCode);
        Assert.Equal(ynCivil.CreditCode, (await Get(ynCivil.Client, $"v1/evaluation/scorecard?from={y}-01-01&to={y}-12-31")).GetProperty("department").GetProperty("creditCode").GetString());

        // Refusals: another department's scorecard; a year not published; a node asking as if it were a department.
        await ProblemAssert.IsProblemAsync(await ynCivil.Client.GetAsync($"v1/evaluation/scorecard?department={provincial.CreditCode}"), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await ProblemAssert.IsProblemAsync(await ynCivil.Client.GetAsync($"v1/evaluation/published/{y - 1}"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await ProblemAssert.IsProblemAsync(await kmNode.GetAsync($"v1/evaluation/published/{y}"), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);

        // The department's own command, as a process: the published report, and the refusal of an unpublished year (exit 1).
        var folder = GovShareProcess.DepartmentFolder(pki.Root, "yn-civil", province.ExchangeAddress, ynCivil.Department, pki.Folder.TrustAnchorsFile);
        var run = await GovShareProcess.RunAsync(folder, ["report", "published", y.ToString(CultureInfo.InvariantCulture)]);
        Assert.True(run.ExitCode == ExitCodes.Ok, run.Stderr);
        Assert.Contains("曲靖市年度报告逾期报送", run.Stdout, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Failed, (await GovShareProcess.RunAsync(folder, ["report", "published", (y - 1).ToString(CultureInfo.InvariantCulture)])).ExitCode);
        Assert.Equal(ExitCodes.Ok, (await GovShareProcess.RunAsync(folder, ["report", "notices"])).ExitCode);

        // The publication is a change-log record naming the operator.
        var publicationRecord = Assert.Single(LogStore.ForDataFolder(province.DataPath).ReadEntries(LogKind.Change)
            .Where(e => e.Type == LogEntryType.Record).Select(e => JsonDocument.Parse(e.RecordJson).RootElement.Clone()),
            r => r.GetProperty("entity").GetString() == $"publication/{y}");
        Assert.Equal(("published", "govshare:operator/530000/bootstrap"), (publicationRecord.GetProperty("diff").GetProperty("action").GetString(), publicationRecord.GetProperty("caller").GetString()));
    }

    private static Task<int> Publish(TestNode node, int year, params string[] advice) =>
        GovShareCommand.Create().Parse(["office", "reports", "publish", year.ToString(CultureInfo.InvariantCulture), .. advice, "--data", node.DataPath, "--management", node.ManagementAddress.ToString()]).InvokeAsync();

    private const string ChildReportsPrefix = "report/";

    private static StringContent Json(SignedSubmission submission) => new(JsonSerializer.Serialize(submission, CatalogJson.Options), Encoding.UTF8, "application/json");

    private static async Task<JsonElement> Scan(HttpClient office) => await Ok(await office.PostAsync("v1/operator/evaluation/violations/scan", null));

    /// <summary>The year's successful pushes and pulls of a node, read from its exchange log (not through the evaluation's code): exchanges (distinct ids) and rows.</summary>
    private static (long Pushes, long PushRows, long Pulls, long PullRows) FromLog(TestNode node, int year)
    {
        var records = LogStore.ForDataFolder(node.DataPath).ReadEntries(LogKind.Exchange)
            .Where(e => e.Type == LogEntryType.Record).Select(e => JsonDocument.Parse(e.RecordJson).RootElement.Clone())
            .Where(r => r.GetProperty("status").GetInt32() is >= 200 and < 300
                && r.GetProperty("time").GetDateTimeOffset().ToOffset(TimeSpan.FromHours(8)).Year == year)
            .ToList();
        (long, long) Of(params string[] kinds)
        {
            var distinct = records.Where(r => kinds.Contains(r.GetProperty("kind").GetString())).GroupBy(r => r.GetProperty("exchangeId").GetString()).ToList();
            return (distinct.Count, distinct.Sum(g => g.First().GetProperty("rows").GetInt64()));
        }

        var (pushes, pushRows) = Of("push");
        var (pulls, pullRows) = Of("pull", "forward");
        return (pushes, pushRows, pulls, pullRows);
    }

    private static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    /// <summary>Waits (up to 120 s; the child's schedule tries every second) until <paramref name="probe"/> finds something.</summary>
    private static async Task<JsonElement> UntilAsync(Func<Task<JsonElement>> probe)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            var found = await probe();
            if (found.ValueKind != JsonValueKind.Undefined)
            {
                return found;
            }

            Assert.True(DateTime.UtcNow < deadline, "the report did not arrive within 120 s");
            await Task.Delay(500);
        }
    }
}
