using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Hierarchy;
using GovShare.Node.Identity;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Catalog;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using GovShare.Node.Tests.Requests;
using Microsoft.Extensions.DependencyInjection;
using static GovShare.Node.Tests.Requests.RequestsHttp;

namespace GovShare.Node.Tests.Hierarchy;

/// <summary>
/// The province's office over its subtree (issue 22): the province (530000) on a clock the test
/// sets in the test year, Kunming (530100) linked below it and publishing its catalog on its own.
/// Art. 12 filings and their review; Art. 13 duplicates across the tree and the designation of
/// the collecting department. Through the operator API; state and change log checked, and after a restart.
/// </summary>
public sealed class OfficeTreeTests : IAsyncLifetime
{
    private const string KunmingCode = "101002/000001";
    private readonly TestPki _pki = new();
    private TestNode _province = null!;
    private TestNode _kunming = null!;
    private ManualClock _clock = null!;
    private TestYear _year = null!;
    private TestDepartment _kunmingPolice = null!;
    private HttpClient _office = null!;

    public async Task InitializeAsync()
    {
        _year = TestYear.Next();
        _clock = new ManualClock(TestYear.At(_year.Wednesday.AddDays(-2), 9));
        var holidays = Path.Combine(_pki.Root, "holidays");
        Directory.CreateDirectory(holidays);
        await File.WriteAllTextAsync(Path.Combine(holidays, $"{_year.Year}.json"), _year.Json());
        foreach (var ca in _pki.Folder.AllAuthorities())
        {
            // The province's clock runs a year ahead: its CRLs must still be fresh then.
            _pki.Folder.PublishCrl(ca, DateTimeOffset.UtcNow, TimeSpan.FromDays(800));
        }

        void Settings(Dictionary<string, string?> s)
        {
            s["Calendar:HolidayFolder"] = holidays;
            s["Hierarchy:HealthInterval"] = "00:00:01";
            s["Hierarchy:PublishInterval"] = "00:00:01";
            s["Hierarchy:ConnectTimeout"] = "00:00:05";
        }

        _province = await TestNode.StartAsync(_pki, "530000", Settings, services => services.AddSingleton<TimeProvider>(_clock));
        _kunming = await TestNode.StartAsync(_pki, "530100", Settings);
        _kunmingPolice = _pki.IssueDepartment("530100", name: "Kunming Public Security Bureau");
        _kunming.Register(_kunmingPolice);
        _office = OperatorOf(_province);
    }

    public async Task DisposeAsync()
    {
        _office.Dispose();
        await _kunming.DisposeAsync();
        await _province.DisposeAsync();
        _pki.Dispose();
    }

    /// <summary>Art. 12: each publication of Kunming's catalog is a filing at the province, reviewed once: sent back with a reason, or approved.</summary>
    [Fact]
    public async Task ChildPublications_FiledAtTheParent_SentBackWithReason_ThenApproved_SurvivesRestart()
    {
        var w = _year.Wednesday;
        using var police = _kunming.Client(_kunmingPolice.Certificate);
        await CreateAsync(police, ExchangeFixture.Entry(KunmingCode, _kunmingPolice, new ShareAttributes(ShareType.Unconditional)));
        Link();
        var first = await EventuallyFilingsAsync(1);
        Assert.Equal("530100", first.GetProperty("child").GetString());
        Assert.Equal("received", first.GetProperty("status").GetString());
        Assert.Equal(1, first.GetProperty("entries").GetInt32());
        Assert.Equal(["530100:" + KunmingCode], first.GetProperty("added").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal(_clock.Now, first.GetProperty("receivedAt").GetDateTimeOffset());
        var firstId = first.GetProperty("id").GetString();

        // The filing records which node filed it: Kunming's node key, and a signature that verifies from what is stored.
        var signed = JsonSerializer.Deserialize<FilingSignature>(first.GetProperty("signature").GetRawText(), CatalogJson.Options)!;
        Assert.Equal(("530100", _pki.NodeKey("530100")), (signed.Node, signed.SignerKeySha256));
        using (var signer = X509Certificate2.CreateFromPem(signed.Certificate))
        using (var key = signer.GetECDsaPublicKey()!)
        {
            var input = SignedSubmission.SigningInput(CatalogFilings.SubmissionKind, signed.Node, signed.PayloadSha256, signed.SignedAt, signed.PayloadSha256);
            Assert.True(key.VerifyData(input, Convert.FromBase64String(signed.Signature), HashAlgorithmName.SHA256));
            Assert.Equal(_pki.NodeKey("530100"), TrustMaterial.SpkiSha256(signer));
        }

        // As the linked Kunming node itself: a publication changed after signing, or signed with another node's key, is refused; nothing filed or aggregated.
        await RefusedPublicationsAsync();
        Assert.Single((await Get(_office, "v1/operator/hierarchy/filings")).EnumerateArray());
        Assert.Equal([KunmingCode], _province.Services.GetRequiredService<CatalogAggregate>().Of("530100").Select(e => e.Entry.ResourceCode));

        // Sent back during the holiday week, with a reason; without one it is refused; reviewed once only.
        _clock.Now = TestYear.At(w.AddDays(2), 10);
        await ProblemAssert.IsProblemAsync(await Post(_office, $"v1/operator/hierarchy/filings/{firstId}/send-back", new { }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        var sentBack = await Ok(await Post(_office, $"v1/operator/hierarchy/filings/{firstId}/send-back", new { reason = "The update cycle of 101002/000001 contradicts its abstract" }));
        Assert.Equal(("sentBack", "govshare:operator/530000/bootstrap"), (sentBack.GetProperty("status").GetString(), sentBack.GetProperty("reviewedBy").GetString()));
        await ProblemAssert.IsProblemAsync(await Post(_office, $"v1/operator/hierarchy/filings/{firstId}/approve", new { }), HttpStatusCode.Conflict, ProblemTypes.Conflict);
        await ProblemAssert.IsProblemAsync(await Post(_office, "v1/operator/hierarchy/filings/fil-530100-9999/approve", new { }), HttpStatusCode.NotFound, ProblemTypes.NotFound);

        // Kunming's office is told over the link (Kunming asks as itself): sent back, why, and that it has to act.
        using var kunmingOffice = OperatorOf(_kunming);
        var told = await EventuallyAtKunmingAsync(kunmingOffice, firstId!, "sentBack");
        Assert.Equal(("530000", "The update cycle of 101002/000001 contradicts its abstract", true),
            (told.GetProperty("parent").GetString(), told.GetProperty("filing").GetProperty("reason").GetString(), told.GetProperty("actionNeeded").GetBoolean()));
        // Only a linked child node reads filings there, never a department.
        await ProblemAssert.IsProblemAsync(await police.GetAsync("v1/hierarchy/filings"), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);

        // Kunming corrects (a second resource): a new filing listing what changed; approved.
        _clock.Now = TestYear.At(w.AddDays(8), 10);
        await CreateAsync(police, ExchangeFixture.Entry("101002/000002", _kunmingPolice, new ShareAttributes(ShareType.Unconditional)));
        var second = await EventuallyFilingsAsync(2);
        Assert.Equal(["530100:101002/000002"], second.GetProperty("added").EnumerateArray().Select(a => a.GetString()));
        Assert.Empty(second.GetProperty("removed").EnumerateArray());
        Assert.Empty(second.GetProperty("changed").EnumerateArray());
        var approved = await Ok(await Post(_office, $"v1/operator/hierarchy/filings/{second.GetProperty("id").GetString()}/approve", new { }));
        Assert.Equal("approved", approved.GetProperty("status").GetString());

        // Kunming learns the approval; the sent-back filing is answered by the later one, so nothing is left to act on.
        var secondId = second.GetProperty("id").GetString()!;
        Assert.False((await EventuallyAtKunmingAsync(kunmingOffice, secondId, "approved")).GetProperty("actionNeeded").GetBoolean());
        var answered = (await Get(kunmingOffice, "v1/operator/hierarchy/parent-filings")).EnumerateArray().Single(f => f.GetProperty("filing").GetProperty("id").GetString() == firstId);
        Assert.Equal((secondId, false), (answered.GetProperty("supersededBy").GetString(), answered.GetProperty("actionNeeded").GetBoolean()));
        // Kunming's change log: what it learnt, attributed to the province, each review once.
        var learnt = Change(_kunming).Where(r => r.GetProperty("entity").GetString()!.StartsWith("parent-filing/", StringComparison.Ordinal))
            .Select(r => (r.GetProperty("entity").GetString(), r.GetProperty("diff").GetProperty("action").GetString(), r.GetProperty("caller").GetString())).ToList();
        Assert.Single(learnt, l => l == ("parent-filing/" + firstId, "sent-back", "govshare:node/530000"));
        Assert.Single(learnt, l => l == ("parent-filing/" + secondId, "approved", "govshare:node/530000"));
        Assert.All(learnt, l => Assert.Equal("govshare:node/530000", l.Item3));

        // The change log: received by the child node, reviewed by the operator.
        var records = Change(_province).Where(r => r.GetProperty("entity").GetString()!.StartsWith("filing/", StringComparison.Ordinal)).ToList();
        Assert.Equal(
            [("filing/" + firstId, "received", "govshare:node/530100"), ("filing/" + firstId, "sent-back", "govshare:operator/530000/bootstrap"), ("filing/" + second.GetProperty("id").GetString(), "received", "govshare:node/530100"), ("filing/" + second.GetProperty("id").GetString(), "approved", "govshare:operator/530000/bootstrap")],
            records.Select(r => (r.GetProperty("entity").GetString(), r.GetProperty("diff").GetProperty("action").GetString(), r.GetProperty("caller").GetString())));

        await _province.RestartAsync();
        _office.Dispose();
        _office = OperatorOf(_province);
        var filings = (await Get(_office, "v1/operator/hierarchy/filings?child=530100")).EnumerateArray().ToList();
        Assert.Equal(["sentBack", "approved"], filings.Select(f => f.GetProperty("status").GetString()));
        Assert.Equal("The update cycle of 101002/000001 contradicts its abstract", filings[0].GetProperty("reason").GetString());
    }

    /// <summary>Art. 13: the same datum collected at the province and in Kunming is seen only across the tree; the office designates its one collector.</summary>
    [Fact]
    public async Task SameDatumInTwoNodes_DuplicateOnlyAcrossTheTree_OfficeDesignatesTheCollector_SurvivesRestart()
    {
        var provincePolice = _pki.IssueDepartment("530000", name: "Yunnan Public Security Department", notAfter: _clock.Now.AddDays(800));
        _province.Register(provincePolice);
        using var atProvince = _province.Client(provincePolice.Certificate);
        using var police = _kunming.Client(_kunmingPolice.Certificate);
        await CreateAsync(atProvince, ExchangeFixture.Entry("101001/000001", provincePolice, new ShareAttributes(ShareType.Unconditional)));
        await CreateAsync(police, ExchangeFixture.Entry(KunmingCode, _kunmingPolice, new ShareAttributes(ShareType.Unconditional)));
        Link();
        await EventuallyFilingsAsync(1);

        // One department per node: each node's own check finds nothing.
        Assert.Empty((await Get(_office, "v1/operator/catalog/duplicates")).EnumerateArray());
        var tree = await TreeDuplicatesAsync();
        var identity = tree["公民身份号码"];
        Assert.True(identity.GetProperty("undesignated").GetBoolean());
        Assert.Equal([("530000", "101001/000001"), ("530100", KunmingCode)], identity.GetProperty("holders").EnumerateArray().Select(h => (h.GetProperty("node").GetString(), h.GetProperty("resourceCode").GetString())));
        // Kunming never shares 住址: it does not leave Kunming, so only the province holds it in the tree's view.
        Assert.False(tree.ContainsKey("住址"));

        // Refused: a department outside the province, an unknown type, no reason.
        var invalid = await ProblemAssert.IsProblemAsync(await Put(_office, "v1/operator/catalog/designations", new { itemName = "公民身份号码", dataType = "text", divisionCode = "520100", creditCode = _kunmingPolice.CreditCode }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal(3, invalid.GetProperty("errors").GetArrayLength());
        Assert.Empty((await Get(_office, "v1/operator/catalog/designations")).EnumerateArray());

        _clock.Now = TestYear.At(_year.Wednesday.AddDays(1), 15);
        var designated = await Ok(await Put(_office, "v1/operator/catalog/designations", new { itemName = "公民身份号码", dataType = "utf8", divisionCode = "530100", creditCode = _kunmingPolice.CreditCode, reason = "户籍登记职责" }));
        Assert.Equal(_kunmingPolice.CreditCode, designated.GetProperty("collector").GetProperty("creditCode").GetString());
        identity = (await TreeDuplicatesAsync())["公民身份号码"];
        Assert.False(identity.GetProperty("undesignated").GetBoolean());
        Assert.Equal([false, true], identity.GetProperty("holders").EnumerateArray().Select(h => h.GetProperty("designated").GetBoolean()));
        Assert.True((await TreeDuplicatesAsync())["姓名"].GetProperty("undesignated").GetBoolean());

        // Re-designated to the province's department: the change log names the collector it replaced.
        await Ok(await Put(_office, "v1/operator/catalog/designations", new { itemName = " 公民身份号码 ", dataType = "utf8", divisionCode = "530000", creditCode = provincePolice.CreditCode, reason = "省级统筹" }));
        var records = Change(_province).Where(r => r.GetProperty("entity").GetString() == "designation/公民身份号码|utf8").ToList();
        Assert.Equal(["designated", "redesignated"], records.Select(r => r.GetProperty("diff").GetProperty("action").GetString()));
        Assert.Equal(_kunmingPolice.CreditCode, records[1].GetProperty("diff").GetProperty("previous").GetProperty("creditCode").GetString());
        Assert.Equal("govshare:operator/530000/bootstrap", records[1].GetProperty("caller").GetString());

        await _province.RestartAsync();
        _office.Dispose();
        _office = OperatorOf(_province);
        var kept = Assert.Single((await Get(_office, "v1/operator/catalog/designations")).EnumerateArray());
        Assert.Equal(provincePolice.CreditCode, kept.GetProperty("collector").GetProperty("creditCode").GetString());
    }

    /// <summary>Tampered and wrongly signed publications sent to the province over Kunming's own connection.</summary>
    private async Task RefusedPublicationsAsync()
    {
        using var kmNode = _province.Client(_pki.NodeCertificate("530100"));
        kmNode.Timeout = TimeSpan.FromSeconds(120);
        var forged = new CatalogPublication([new AggregatedEntry("530100", ExchangeFixture.Entry("101002/000009", _kunmingPolice, new ShareAttributes(ShareType.Unconditional)))]);
        var payload = JsonSerializer.SerializeToUtf8Bytes(forged, CatalogJson.Options);
        var subject = Convert.ToHexStringLower(SHA256.HashData(payload));
        using var kmKey = _pki.NodeCertificate("530100");
        var submission = SignedSubmission.Sign(CatalogFilings.SubmissionKind, "530100", subject, payload, kmKey, DateTimeOffset.UtcNow);

        // One byte of the payload changed after signing.
        var tampered = (byte[])payload.Clone();
        tampered[tampered.Length / 2] ^= 0x01;
        await ProblemAssert.IsProblemAsync(await Publish(kmNode, submission with { Payload = Convert.ToBase64String(tampered) }), HttpStatusCode.BadRequest, ProblemTypes.ReportSignatureInvalid);

        // Signed with another child's node key (Qujing's), naming Kunming; and with a key of Kunming the link does not pin.
        using (var qujing = _pki.IssueAnotherNodeCertificate("530300", "node-530300-other"))
        {
            await ProblemAssert.IsProblemAsync(await Publish(kmNode, SignedSubmission.Sign(CatalogFilings.SubmissionKind, "530100", subject, payload, qujing, DateTimeOffset.UtcNow)), HttpStatusCode.Forbidden, ProblemTypes.ReportSignerRefused);
        }

        using (var rekeyed = _pki.IssueAnotherNodeCertificate("530100", "node-530100-rekeyed"))
        {
            await ProblemAssert.IsProblemAsync(await Publish(kmNode, SignedSubmission.Sign(CatalogFilings.SubmissionKind, "530100", subject, payload, rekeyed, DateTimeOffset.UtcNow)), HttpStatusCode.Forbidden, ProblemTypes.ReportSignerRefused);
        }

        // Properly signed, but as another kind (an annual report), or about another payload than it carries.
        await ProblemAssert.IsProblemAsync(await Publish(kmNode, SignedSubmission.Sign("annual-report", "530100", subject, payload, kmKey, DateTimeOffset.UtcNow)), HttpStatusCode.BadRequest, ProblemTypes.ReportMismatch);
        await ProblemAssert.IsProblemAsync(await Publish(kmNode, SignedSubmission.Sign(CatalogFilings.SubmissionKind, "530100", "2026", payload, kmKey, DateTimeOffset.UtcNow)), HttpStatusCode.BadRequest, ProblemTypes.ReportMismatch);

        // The unsigned publication of before: no longer taken.
        await ProblemAssert.IsProblemAsync(await Publish(kmNode, forged), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
    }

    private static async Task<HttpResponseMessage> Publish(HttpClient node, object body)
    {
        using var content = new StringContent(JsonSerializer.Serialize(body, CatalogJson.Options), System.Text.Encoding.UTF8, "application/json");
        return await node.PutAsync(HierarchyApi.PublishPath[1..], content);
    }

    /// <summary>Links the two nodes (as their operators would); Kunming then publishes its catalog within a second.</summary>
    private void Link()
    {
        Assert.Empty(_province.Services.GetRequiredService<NodeLinkRegistry>().Link("530100", LinkRole.Child, _kunming.ExchangeAddress.ToString(), _pki.NodeKey("530100"), out _));
        Assert.Empty(_kunming.Services.GetRequiredService<NodeLinkRegistry>().Link("530000", LinkRole.Parent, _province.ExchangeAddress.ToString(), _pki.NodeKey("530000"), out _));
    }

    private static HttpClient OperatorOf(TestNode node)
    {
        var client = Operator(node);
        client.Timeout = TimeSpan.FromSeconds(120);
        return client;
    }

    private static async Task CreateAsync(HttpClient department, CatalogEntry entry)
    {
        var response = await CatalogHttp.Send(department, HttpMethod.Post, "v1/catalog", entry);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
    }

    private static async Task<HttpResponseMessage> Put(HttpClient client, string url, object body)
    {
        using var content = new StringContent(JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json");
        return await client.PutAsync(url, content);
    }

    private async Task<Dictionary<string, JsonElement>> TreeDuplicatesAsync() =>
        (await Get(_office, "v1/operator/hierarchy/duplicates")).EnumerateArray().ToDictionary(d => d.GetProperty("itemName").GetString()!);

    /// <summary>Waits (Kunming publishes every second) until the province holds <paramref name="count"/> filings; returns the last.</summary>
    private async Task<JsonElement> EventuallyFilingsAsync(int count)
    {
        for (var i = 0; i < 600; i++)
        {
            var filings = (await Get(_office, "v1/operator/hierarchy/filings")).EnumerateArray().ToList();
            if (filings.Count >= count)
            {
                Assert.Equal(count, filings.Count);
                return filings[^1];
            }

            await Task.Delay(100);
        }

        Assert.Fail($"the province never held {count} filing(s) from Kunming");
        return default;
    }

    /// <summary>Waits (Kunming asks every second) until Kunming's office sees its filing <paramref name="id"/> with <paramref name="status"/> at the province.</summary>
    private static async Task<JsonElement> EventuallyAtKunmingAsync(HttpClient kunmingOffice, string id, string status)
    {
        for (var i = 0; i < 600; i++)
        {
            var seen = (await Get(kunmingOffice, "v1/operator/hierarchy/parent-filings")).EnumerateArray()
                .Where(f => f.GetProperty("filing").GetProperty("id").GetString() == id && f.GetProperty("filing").GetProperty("status").GetString() == status).ToList();
            if (seen.Count > 0)
            {
                return seen[0];
            }

            await Task.Delay(100);
        }

        Assert.Fail($"Kunming never learnt that filing {id} is {status}");
        return default;
    }

    private static List<JsonElement> Change(TestNode node) =>
        [.. LogStore.ForDataFolder(node.DataPath).ReadEntries(LogKind.Change)
            .Where(e => e.Type == LogEntryType.Record)
            .Select(e => JsonDocument.Parse(e.RecordJson).RootElement.Clone())];
}
