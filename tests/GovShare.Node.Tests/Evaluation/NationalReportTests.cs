using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using GovShare.Cli.Commands;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Hierarchy;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Functional;
using GovShare.Node.Tests.Requests;
using Microsoft.Extensions.DependencyInjection;
using static GovShare.Node.Tests.Requests.RequestsHttp;

namespace GovShare.Node.Tests.Evaluation;

/// <summary>
/// Art. 40, the province's half, on four real nodes on loopback on one clock the test sets: a national stand-in
/// (000000, its own root, trusted by the province through <c>Upstream:ParentTrustAnchor</c> for the national node
/// only), the province and two prefectures. The prefectures report to the province by 15 January; the province owes
/// the national node its report by the last day of February. The national node lists it as late, records
/// <c>report-late</c> the day after, then receives, verifies and shows the province's signed report, whose figures are
/// the three nodes' exchange logs; a tampered one is refused.
/// </summary>
public sealed class NationalReportTests
{
    private const string Code = "101001/000001";

    [Fact]
    public async Task ProvinceReportsToTheNation_LateTheDayAfterFebruary_SignedFiguresAreTheWholeProvince_TamperedRefused()
    {
        var year = TestYear.Next();
        var y = year.Year;
        using var yunnan = new TestPki();
        using var nation = TestPki.National();
        var clock = new ManualClock(TestYear.At(new DateOnly(y, 3, 2), 9));
        var now = DateTimeOffset.UtcNow;
        foreach (var (pki, division) in new[] { (yunnan, "530000"), (yunnan, "530100"), (yunnan, "530300"), (nation, "000000") })
        {
            // Node certificates that outlive the simulated year and the February after it (the nodes check them on their clock).
            File.Delete(Path.Combine(pki.Folder.IssuedFolder, $"node-{division}.key"));
            File.Delete(Path.Combine(pki.Folder.IssuedFolder, $"node-{division}.crt"));
            pki.Folder.IssueNode(division, now.AddMinutes(-5), clock.Now.AddDays(800), ["localhost"], [IPAddress.Loopback]);
        }

        foreach (var pki in new[] { yunnan, nation })
        {
            foreach (var ca in pki.Folder.AllAuthorities())
            {
                pki.Folder.PublishCrl(ca, now, TimeSpan.FromDays(900));
            }
        }

        var holidays = Path.Combine(yunnan.Root, "holidays");
        Directory.CreateDirectory(holidays);
        await File.WriteAllTextAsync(Path.Combine(holidays, $"{y}.json"), year.Json());
        void Common(Dictionary<string, string?> s, string submitInterval)
        {
            s["Calendar:HolidayFolder"] = holidays;
            s["Evaluation:ScanInterval"] = "00:00:00";
            s["Evaluation:ReportSubmitInterval"] = submitInterval;
        }

        // The national stand-in trusts its own root and, for the province's identities only, the Yunnan root (and its CRL).
        var nationalAnchors = Path.Combine(nation.Root, "anchors-national-and-yunnan.pem");
        await File.WriteAllTextAsync(nationalAnchors, await File.ReadAllTextAsync(nation.RootCertificateFile) + await File.ReadAllTextAsync(yunnan.RootCertificateFile));
        File.Copy(Path.Combine(yunnan.Folder.CrlFolder, "root.crl"), Path.Combine(nation.Folder.CrlFolder, "yunnan-root.crl"));
        await using var national = await TestNode.StartAsync(nation, "000000", s =>
        {
            Common(s, "00:00:00");
            s["Node:TrustAnchors"] = nationalAnchors;
        }, services: s => s.AddSingleton<TimeProvider>(clock));

        // The province: its own PKI plus the national root for the national node only; its schedule is off, so it will be late.
        var provinceCrls = Path.Combine(yunnan.Root, "crl-province");
        Directory.CreateDirectory(provinceCrls);
        foreach (var crl in Directory.GetFiles(yunnan.Folder.CrlFolder))
        {
            File.Copy(crl, Path.Combine(provinceCrls, Path.GetFileName(crl)));
        }

        File.Copy(Path.Combine(nation.Folder.CrlFolder, "root.crl"), Path.Combine(provinceCrls, "national-root.crl"));
        await using var province = await TestNode.StartAsync(yunnan, "530000", s =>
        {
            Common(s, "00:00:00");
            s["Node:CrlPath"] = provinceCrls;
            s["Upstream:ParentUrl"] = national.ExchangeAddress.ToString();
            s["Upstream:ParentDivisionCode"] = "000000";
            s["Upstream:ParentKeySha256"] = nation.NodeKey("000000");
            s["Upstream:ParentTrustAnchor"] = nation.RootCertificateFile;
        }, services: s => s.AddSingleton<TimeProvider>(clock));
        Assert.Empty(national.Services.GetRequiredService<NodeLinkRegistry>().Link("530000", LinkRole.Child, province.ExchangeAddress.ToString(), yunnan.NodeKey("530000"), out _));

        // Both prefectures submit by themselves (every second) once January comes.
        await using var kunming = await TestNode.StartAsync(yunnan, "530100", s => Common(s, "00:00:01"), services: s => s.AddSingleton<TimeProvider>(clock));
        await using var qujing = await TestNode.StartAsync(yunnan, "530300", s => Common(s, "00:00:01"), services: s => s.AddSingleton<TimeProvider>(clock));
        foreach (var node in new[] { kunming, qujing })
        {
            Assert.Empty(province.Services.GetRequiredService<NodeLinkRegistry>().Link(node.Division, LinkRole.Child, node.ExchangeAddress.ToString(), yunnan.NodeKey(node.Division), out _));
            Assert.Empty(node.Services.GetRequiredService<NodeLinkRegistry>().Link("530000", LinkRole.Parent, province.ExchangeAddress.ToString(), yunnan.NodeKey("530000"), out _));
        }

        // A year of activity in each of the three Yunnan nodes.
        Party Department(TestNode node, string name)
        {
            var department = yunnan.IssueDepartment(node.Division, name: name, notAfter: clock.Now.AddDays(800));
            node.Register(department);
            var client = node.Client(department.Certificate);
            client.Timeout = TimeSpan.FromSeconds(120);
            return new Party(department, client);
        }

        var kmPolice = Department(kunming, "Kunming Public Security Bureau");
        var kmCivil = Department(kunming, "Kunming Civil Affairs Bureau");
        var qjPolice = Department(qujing, "Qujing Public Security Bureau");
        var ynCivil = Department(province, "Yunnan Civil Affairs Department");
        await EvaluationNode.CreateEntryAsync(kmPolice, Code, ShareType.Unconditional, UpdateCycle.Yearly);
        await EvaluationNode.CreateEntryAsync(qjPolice, Code, ShareType.Unconditional, UpdateCycle.Yearly);
        await EvaluationNode.CreateEntryAsync(ynCivil, "102001/000001", ShareType.Unconditional, UpdateCycle.Yearly);
        await EvaluationNode.PushAsync(kmPolice, Code, 5);
        Assert.Equal(HttpStatusCode.OK, (await EvaluationNode.PullAsync(kmCivil, Code, "social-assistance")).Status);
        clock.Now = TestYear.At(new DateOnly(y, 6, 10), 9);
        await EvaluationNode.PushAsync(qjPolice, Code, 3);
        await EvaluationNode.PushAsync(ynCivil, "102001/000001", 2);
        await EvaluationNode.PushAsync(ynCivil, "102001/000001", 6);

        // 10 January: both prefectures' reports reach the province.
        clock.Now = TestYear.At(new DateOnly(y + 1, 1, 10), 9);
        using var provinceOffice = Operator(province);
        provinceOffice.Timeout = TimeSpan.FromSeconds(120);
        await UntilAsync(async () => (await Get(provinceOffice, $"v1/operator/evaluation/reports/{y}/received")).GetArrayLength() == 2);

        // The national office: the province is due by the last day of February; on that day's last minute nothing is late,
        // the day after (1 March) it is late and the scan records its report-late violation.
        using var nationalOffice = Operator(national);
        nationalOffice.Timeout = TimeSpan.FromSeconds(120);
        var lastOfFebruary = new DateOnly(y + 1, 3, 1).AddDays(-1);
        var missing = Assert.Single((await Get(nationalOffice, $"v1/operator/evaluation/reports/{y}")).GetProperty("missing").EnumerateArray());
        Assert.Equal(("530000", Day(lastOfFebruary), "due"), (missing.GetProperty("node").GetString(), missing.GetProperty("dueBy").GetString(), missing.GetProperty("status").GetString()));
        clock.Now = TestYear.At(lastOfFebruary, 23, 59);
        Assert.DoesNotContain((await Scan(nationalOffice)).GetProperty("new").EnumerateArray(), v => v.GetProperty("rule").GetString() == "report-late");
        clock.Now = TestYear.At(lastOfFebruary.AddDays(1), 9);
        var late = Assert.Single((await Scan(nationalOffice)).GetProperty("new").EnumerateArray(), v => v.GetProperty("rule").GetString() == "report-late");
        Assert.Equal(("530000", "node/530000", Day(lastOfFebruary.AddDays(1))),
            (late.GetProperty("department").GetProperty("divisionCode").GetString(), late.GetProperty("department").GetProperty("creditCode").GetString(), late.GetProperty("occurredOn").GetString()));
        missing = Assert.Single((await Get(nationalOffice, $"v1/operator/evaluation/reports/{y}")).GetProperty("missing").EnumerateArray());
        Assert.Equal(("530000", "late"), (missing.GetProperty("node").GetString(), missing.GetProperty("status").GetString()));

        // The province's operator submits (the CLI): signed by the province's node key, over the national link.
        Assert.Equal(ExitCodes.Ok, await GovShareCommand.Create().Parse(["office", "reports", "submit", y.ToString(CultureInfo.InvariantCulture), "--data", province.DataPath, "--management", province.ManagementAddress.ToString()]).InvokeAsync());
        var received = Assert.Single((await Get(nationalOffice, $"v1/operator/evaluation/reports/{y}/received")).EnumerateArray());
        Assert.Equal(("530000", true, yunnan.NodeKey("530000")), (received.GetProperty("child").GetString(), received.GetProperty("late").GetBoolean(), received.GetProperty("signerKeySha256").GetString()));
        Assert.Contains((await Scan(nationalOffice)).GetProperty("rectified").EnumerateArray(), v => v.GetProperty("id").GetString() == late.GetProperty("id").GetString());

        // What the national node shows of the province equals the two prefectures' submitted reports plus the province's
        // own, and the three exchange logs read directly.
        var atNation = await Get(nationalOffice, $"v1/operator/evaluation/reports/{y}");
        Assert.Empty(atNation.GetProperty("missing").EnumerateArray());
        var child = Assert.Single(atNation.GetProperty("children").EnumerateArray());
        Assert.Equal("530000", child.GetProperty("node").GetString());
        var shown = child.GetProperty("total");
        var atProvince = await Get(provinceOffice, $"v1/operator/evaluation/reports/{y}");
        var prefectures = atProvince.GetProperty("children").EnumerateArray().ToList();
        Assert.Equal(["530100", "530300"], prefectures.Select(c => c.GetProperty("node").GetString()));
        var own = atProvince.GetProperty("own").GetProperty("summary");
        long Sum(string kind, string figure) =>
            own.GetProperty(kind).GetProperty(figure).GetInt64() + prefectures.Sum(c => c.GetProperty("total").GetProperty(kind).GetProperty(figure).GetInt64());
        var logs = new[] { province, kunming, qujing }.Select(n => FromLog(n, y)).ToList();
        Assert.Equal((4L, 16L, 1L), (logs.Sum(l => l.Pushes), logs.Sum(l => l.PushRows), logs.Sum(l => l.Pulls)));
        Assert.Equal(
            (logs.Sum(l => l.Pushes), logs.Sum(l => l.PushRows), logs.Sum(l => l.Pulls), logs.Sum(l => l.PullRows)),
            (shown.GetProperty("pushes").GetProperty("exchanges").GetInt64(), shown.GetProperty("pushes").GetProperty("rows").GetInt64(),
             shown.GetProperty("pulls").GetProperty("exchanges").GetInt64(), shown.GetProperty("pulls").GetProperty("rows").GetInt64()));
        Assert.Equal(
            (Sum("pushes", "exchanges"), Sum("pushes", "rows"), Sum("pulls", "exchanges"), Sum("pulls", "rows")),
            (shown.GetProperty("pushes").GetProperty("exchanges").GetInt64(), shown.GetProperty("pushes").GetProperty("rows").GetInt64(),
             shown.GetProperty("pulls").GetProperty("exchanges").GetInt64(), shown.GetProperty("pulls").GetProperty("rows").GetInt64()));
        Assert.Equal(atProvince.GetProperty("total").GetRawText(), shown.GetRawText());

        // Tampered, as the linked province node itself: one flipped byte of the payload is refused, nothing replaced.
        var stored = await Get(nationalOffice, $"v1/operator/evaluation/reports/{y}/received/530000");
        var submission = JsonSerializer.Deserialize<SignedSubmission>(stored.GetProperty("submission").GetRawText(), CatalogJson.Options)!;
        using var provinceNode = TestNode.ClientFor(nation, national.ExchangeAddress, yunnan.NodeCertificate("530000"));
        provinceNode.Timeout = TimeSpan.FromSeconds(120);
        var payload = Convert.FromBase64String(submission.Payload);
        payload[payload.Length / 2] ^= 0x01;
        await ProblemAssert.IsProblemAsync(await provinceNode.PutAsync($"v1/hierarchy/reports/{y}", Json(submission with { Payload = Convert.ToBase64String(payload) })), HttpStatusCode.BadRequest, ProblemTypes.ReportSignatureInvalid);

        // Signed by a prefecture's node key (a valid Yunnan node certificate) in the province's name: refused too.
        using (var kunmingKey = yunnan.NodeCertificate("530100"))
        {
            await ProblemAssert.IsProblemAsync(await provinceNode.PutAsync($"v1/hierarchy/reports/{y}", Json(SignedSubmission.Sign(GovShare.Node.Evaluation.TreeReports.Kind, "530000", $"{y}", Convert.FromBase64String(submission.Payload), kunmingKey, submission.SignedAt))), HttpStatusCode.Forbidden, ProblemTypes.ReportSignerRefused);
        }

        Assert.Equal(submission.PayloadSha256, (await Get(nationalOffice, $"v1/operator/evaluation/reports/{y}/received/530000")).GetProperty("submission").GetProperty("payloadSha256").GetString());
    }

    private static StringContent Json(SignedSubmission submission) => new(JsonSerializer.Serialize(submission, CatalogJson.Options), Encoding.UTF8, "application/json");

    private static async Task<JsonElement> Scan(HttpClient office) => await Ok(await office.PostAsync("v1/operator/evaluation/violations/scan", null));

    /// <summary>The year's successful pushes and pulls of a node, read from its exchange log: exchanges (distinct ids) and rows.</summary>
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

    /// <summary>Waits (up to 120 s; the children's schedules try every second) until <paramref name="done"/> holds.</summary>
    private static async Task UntilAsync(Func<Task<bool>> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < deadline, "the prefectures' reports did not arrive within 120 s");
            await Task.Delay(500);
        }
    }
}
