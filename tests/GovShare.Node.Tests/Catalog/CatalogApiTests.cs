using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Identity;
using GovShare.Node.Management;
using GovShare.Node.Tests.Functional;

namespace GovShare.Node.Tests.Catalog;

/// <summary>A real node (TLS, LiteDB) shared by the catalog API tests; each test uses its own departments.</summary>
public sealed class CatalogNodeFixture : IAsyncLifetime
{
    public TestPki Pki { get; } = new();

    public TestNode Node { get; private set; } = null!;

    public async Task InitializeAsync() => Node = await CatalogHttp.StartNodeAsync(Pki);

    public async Task DisposeAsync()
    {
        await Node.DisposeAsync();
        Pki.Dispose();
    }
}

public sealed class CatalogApiTests(CatalogNodeFixture fixture) : IClassFixture<CatalogNodeFixture>
{
    private TestNode Node => fixture.Node;

    [Fact]
    public async Task SharingCatalog_ThreeShareTypes_OtherDepartmentSeesExactlyItsView()
    {
        var (police, policeClient) = Department();
        var (_, civilClient) = Department();
        var open = CatalogHttp.Entry("301002/000001", police, ShareType.Unconditional, "户籍登记") with
        {
            Items = [new("household", "户号", "utf8", 20), new("internal_note", "内部备注", "utf8", Shareable: false)],
        };
        var created = await CatalogHttp.Send(policeClient, HttpMethod.Post, "v1/catalog", open);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("\"1\"", created.Headers.ETag?.Tag);
        Assert.Equal("/v1/catalog/301002-000001", created.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.Created, (await CatalogHttp.Send(policeClient, HttpMethod.Post, "v1/catalog", CatalogHttp.Entry("301002/000002", police, ShareType.Conditional, "暂住登记"))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await CatalogHttp.Send(policeClient, HttpMethod.Post, "v1/catalog", CatalogHttp.Entry("301002/000003", police, ShareType.NotShared, "侦查信息"))).StatusCode);

        var page = await CatalogHttp.Json(await civilClient.GetAsync($"v1/catalog?department={police.CreditCode}"));

        Assert.Equal(3, page.GetProperty("total").GetInt32());
        var entries = page.GetProperty("entries").EnumerateArray().ToArray();
        Assert.Equal(["301002/000001", "301002/000002", "301002/000003"], entries.Select(e => e.GetProperty("resourceCode").GetString()));
        Assert.Equal(["household"], entries[0].GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()));
        Assert.Equal(3, entries[1].GetProperty("items").GetArrayLength());
        Assert.Equal("仅限社会保障业务", entries[1].GetProperty("share").GetProperty("condition").GetString());
        Assert.Equal(0, entries[2].GetProperty("items").GetArrayLength());
        Assert.Equal("notShared", entries[2].GetProperty("share").GetProperty("type").GetString());
        Assert.Equal("《中华人民共和国保守国家秘密法》", entries[2].GetProperty("share").GetProperty("reason").GetString());

        // One entry: the other department gets the sharing view; the provider its full entry.
        var single = await CatalogHttp.Json(await civilClient.GetAsync("v1/catalog/301002-000003"));
        Assert.Equal(0, single.GetProperty("items").GetArrayLength());
        var own = await CatalogHttp.Json(await policeClient.GetAsync("v1/catalog/301002-000001"));
        Assert.Equal(2, own.GetProperty("items").GetArrayLength());

        // The resource catalog is always the caller's own.
        Assert.Equal(3, (await CatalogHttp.Json(await policeClient.GetAsync("v1/catalog/resources"))).GetProperty("total").GetInt32());
        Assert.Equal(0, (await CatalogHttp.Json(await civilClient.GetAsync("v1/catalog/resources"))).GetProperty("total").GetInt32());

        // Filters.
        Assert.Equal(1, (await CatalogHttp.Json(await civilClient.GetAsync($"v1/catalog?department={police.CreditCode}&shareType=conditional"))).GetProperty("total").GetInt32());
        Assert.Equal(0, (await CatalogHttp.Json(await civilClient.GetAsync($"v1/catalog?department={police.CreditCode}&q={Uri.EscapeDataString("内部备注")}"))).GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task Write_OtherDepartmentsEntry_Forbidden403NothingChanged()
    {
        var (police, policeClient) = Department();
        var (civil, civilClient) = Department();
        await CatalogHttp.Send(policeClient, HttpMethod.Post, "v1/catalog", CatalogHttp.Entry("301003/000001", police));

        var update = await CatalogHttp.Send(civilClient, HttpMethod.Put, "v1/catalog/301003-000001", CatalogHttp.Entry("301003/000001", police) with { Name = "篡改" }, ifMatch: "\"1\"");
        await ProblemAssert.IsProblemAsync(update, HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        var retire = await CatalogHttp.Send(civilClient, HttpMethod.Delete, "v1/catalog/301003-000001", null, ifMatch: "\"1\"");
        await ProblemAssert.IsProblemAsync(retire, HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        var csv = await CatalogHttp.SendCsv(civilClient, "v1/catalog/301003-000001/items.csv", "id,name,dataType,length,nullable,shareable,sensitivity,masking\r\nx,甲,utf8,,true,true,public,none\r\n", "\"1\"");
        await ProblemAssert.IsProblemAsync(csv, HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        var impersonate = await CatalogHttp.Send(civilClient, HttpMethod.Post, "v1/catalog", CatalogHttp.Entry("301003/000002", police));
        await ProblemAssert.IsProblemAsync(impersonate, HttpStatusCode.Forbidden, ProblemTypes.Forbidden);

        var entry = await CatalogHttp.Json(await policeClient.GetAsync("v1/catalog/301003-000001"));
        Assert.Equal((1, "人口基本信息"), (entry.GetProperty("version").GetInt32(), entry.GetProperty("name").GetString()));
        Assert.Equal(HttpStatusCode.NotFound, (await policeClient.GetAsync("v1/catalog/301003-000002")).StatusCode);
        Assert.Contains(Node.Logs, l => l.Contains("[3005:CatalogWriteForbidden]", StringComparison.Ordinal) && l.Contains(civil.CreditCode, StringComparison.Ordinal));
    }

    [Fact]
    public async Task BadInputs_EachRefusedWithPreciseErrorNothingChanged()
    {
        var (police, client) = Department();
        var good = CatalogHttp.Entry("301004/000001", police);
        Assert.Equal(HttpStatusCode.Created, (await CatalogHttp.Send(client, HttpMethod.Post, "v1/catalog", good)).StatusCode);
        var changesBefore = await ChangeCount();

        async Task Invalid(object body, string expectedPath, string expectedCode)
        {
            var response = await CatalogHttp.Send(client, HttpMethod.Post, "v1/catalog", body);
            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
            var errors = problem.GetProperty("errors").EnumerateArray().Select(e => (e.GetProperty("path").GetString(), e.GetProperty("code").GetString())).ToList();
            Assert.Contains((expectedPath, expectedCode), errors);
        }

        await Invalid(good with { ResourceCode = "30100/000002" }, "resourceCode", "resourceCode.classificationLength");
        await Invalid(good with { ResourceCode = "301004/0000002" }, "resourceCode", "resourceCode.sequenceLength");
        await Invalid(good with { ResourceCode = "3010A4/000002" }, "resourceCode", "resourceCode.classificationDigits");
        await Invalid(good with { ResourceCode = "../../000002" }, "resourceCode", "resourceCode.format");
        await Invalid(good with { ResourceCode = new string('3', 40) + "/000002" }, "resourceCode", "resourceCode.tooLong");
        await Invalid(good with { ResourceCode = "301004/000002", Share = new ShareAttributes(ShareType.Conditional) }, "share.condition", "required");
        await Invalid(good with { ResourceCode = "301004/000002", Items = [new("a", "姓名", "utf8"), new("b", "姓名", "utf8")] }, "items[1].name", "item.duplicateName");
        await Invalid(good with { ResourceCode = "301004/000002", Items = [new("a", "姓名", "nvarchar")] }, "items[0].dataType", "dataType.unknown");
        await Invalid(new { name = "只有名称" }, "resourceCode", "required");

        // All errors of one body at once.
        var many = await CatalogHttp.Send(client, HttpMethod.Post, "v1/catalog", good with { ResourceCode = "x", Name = "", Share = new ShareAttributes(ShareType.NotShared), Items = [new("a", "甲", "nvarchar")] });
        var manyProblem = await ProblemAssert.IsProblemAsync(many, HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.True(manyProblem.GetProperty("errors").GetArrayLength() >= 4);

        await ProblemAssert.IsProblemAsync(await CatalogHttp.Send(client, HttpMethod.Post, "v1/catalog", good), HttpStatusCode.Conflict, ProblemTypes.CatalogCodeTaken);
        await ProblemAssert.IsProblemAsync(await CatalogHttp.Send(client, HttpMethod.Put, "v1/catalog/301004-000001", good with { Name = "新" }, ifMatch: "\"7\""), HttpStatusCode.PreconditionFailed, ProblemTypes.PreconditionFailed);
        await ProblemAssert.IsProblemAsync(await CatalogHttp.Send(client, HttpMethod.Put, "v1/catalog/301004-000001", good with { Name = "新" }), (HttpStatusCode)428, ProblemTypes.PreconditionRequired);
        await ProblemAssert.IsProblemAsync(await CatalogHttp.Send(client, HttpMethod.Delete, "v1/catalog/301004-000001", null), (HttpStatusCode)428, ProblemTypes.PreconditionRequired);
        await ProblemAssert.IsProblemAsync(await client.GetAsync("v1/catalog/..%2F..%2Fetc"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        await ProblemAssert.IsProblemAsync(await client.GetAsync("v1/catalog/301004-00001"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        await ProblemAssert.IsProblemAsync(await client.GetAsync("v1/catalog?pageSize=100000&shareType=2"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);

        using (var text = new StringContent("{}", Encoding.UTF8, "text/plain"))
        {
            await ProblemAssert.IsProblemAsync(await client.PostAsync("v1/catalog", text), HttpStatusCode.UnsupportedMediaType, ProblemTypes.UnsupportedMediaType);
        }

        using (var broken = new StringContent("{\"resourceCode\": \"301004/000003\", \"share\": {\"type\": \"sometimes\"}}", Encoding.UTF8, "application/json"))
        {
            var problem = await ProblemAssert.IsProblemAsync(await client.PostAsync("v1/catalog", broken), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
            Assert.Contains("$.share.type", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        using (var huge = new StringContent("{\"abstract\":\"" + new string('a', (int)CatalogHttp.MaxEntryBytes) + "\"}", Encoding.UTF8, "application/json"))
        {
            await ProblemAssert.IsProblemAsync(await client.PostAsync("v1/catalog", huge), HttpStatusCode.RequestEntityTooLarge, ProblemTypes.PayloadTooLarge);
        }

        var csv = await CatalogHttp.SendCsv(client, "v1/catalog/301004-000001/items.csv", "id,name,dataType,length,nullable,shareable,sensitivity,masking\r\na,甲,uuid,,maybe,true,public,none\r\n", "\"1\"");
        var csvProblem = await ProblemAssert.IsProblemAsync(csv, HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Contains("items.csv:row 2.nullable", csvProblem.GetRawText(), StringComparison.Ordinal);

        // Nothing changed: one entry at version 1, no new change records.
        var resources = await CatalogHttp.Json(await client.GetAsync("v1/catalog/resources"));
        Assert.Equal(1, resources.GetProperty("total").GetInt32());
        Assert.Equal(1, resources.GetProperty("entries")[0].GetProperty("version").GetInt32());
        Assert.Equal(changesBefore, await ChangeCount());
    }

    [Fact]
    public async Task Write_MaskingRuleNotForTheItemsType_400NamingItemAndRuleNothingChanged()
    {
        var (police, client) = Department();
        var good = CatalogHttp.Entry("301005/000001", police);
        var bucketOnText = good with
        {
            Items = [good.Items[0], good.Items[1] with { Masking = MaskingRule.Bucket(18, 60) }, good.Items[2] with { Masking = MaskingRule.KeepEnds(1, 1) }],
        };
        var changesBefore = await ChangeCount();

        var response = await CatalogHttp.Send(client, HttpMethod.Post, "v1/catalog", bucketOnText);

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        var errors = problem.GetProperty("errors").EnumerateArray().Select(e => (Path: e.GetProperty("path").GetString(), Code: e.GetProperty("code").GetString(), Message: e.GetProperty("message").GetString()!)).ToList();
        Assert.Contains(errors, e => e is { Path: "items[1].masking", Code: "masking.notForType" } && e.Message.Contains("full_name", StringComparison.Ordinal) && e.Message.Contains("Bucket", StringComparison.Ordinal));
        Assert.Contains(errors, e => e is { Path: "items[2].masking", Code: "masking.notForType" } && e.Message.Contains("KeepEnds", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("v1/catalog/301005-000001")).StatusCode);
        Assert.Equal(changesBefore, await ChangeCount());
    }

    [Fact]
    public async Task UpdateAndRetire_WithIfMatch_VersionsAdvance()
    {
        var (police, client) = Department();
        var entry = CatalogHttp.Entry("301005/000001", police);
        await CatalogHttp.Send(client, HttpMethod.Post, "v1/catalog", entry);

        var updated = await CatalogHttp.Send(client, HttpMethod.Put, "v1/catalog/301005-000001", entry with { Share = new ShareAttributes(ShareType.Conditional, Condition: "仅限民政业务") }, ifMatch: "\"1\"");
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        Assert.Equal("\"2\"", updated.Headers.ETag?.Tag);
        var body = await CatalogHttp.Json(updated);
        // The arithmetic is the calendar's unit tests' business; here: a review is open, 30 working days (≥ 6 weeks) out.
        var due = DateOnly.Parse(body.GetProperty("entry").GetProperty("shareReview").GetProperty("due").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(due >= DateOnly.FromDateTime(DateTime.UtcNow).AddDays(40), $"due {due}");

        var retired = await CatalogHttp.Send(client, HttpMethod.Delete, "v1/catalog/301005-000001", null, ifMatch: "\"2\"");
        Assert.Equal(HttpStatusCode.OK, retired.StatusCode);
        var (_, other) = Department();
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync("v1/catalog/301005-000001")).StatusCode);
        Assert.Equal("retired", (await CatalogHttp.Json(await client.GetAsync("v1/catalog/301005-000001"))).GetProperty("status").GetString());
    }

    [Fact]
    public async Task DuplicateCollection_ReportedToRegistrantAndOperator()
    {
        var (police, policeClient) = Department();
        var (civil, civilClient) = Department();
        await CatalogHttp.Send(policeClient, HttpMethod.Post, "v1/catalog", CatalogHttp.Entry("101006/000001", police));

        var response = await CatalogHttp.Send(civilClient, HttpMethod.Post, "v1/catalog", CatalogHttp.Entry("301006/000001", civil, name: "婚姻登记") with
        {
            Items = [new("party_id", "公民身份号码", "utf8", 18), new("reg_date", "登记日期", "date32")],
        });

        var duplicate = Assert.Single((await CatalogHttp.Json(response)).GetProperty("possibleDuplicates").EnumerateArray());
        Assert.Equal("101006/000001", duplicate.GetProperty("heldByResourceCode").GetString());
        Assert.Equal("citizen_id", duplicate.GetProperty("heldByItemId").GetString());

        var own = await CatalogHttp.Json(await policeClient.GetAsync("v1/catalog/duplicates"));
        Assert.Contains(own.EnumerateArray(), d => d.GetProperty("resourceCode").GetString() == "301006/000001");

        using var op = await OperatorClient();
        var all = await CatalogHttp.Json(await op.GetAsync("v1/operator/catalog/duplicates"));
        Assert.Contains(all.EnumerateArray(), d => d.GetProperty("resourceCode").GetString() == "301006/000001" && d.GetProperty("heldByResourceCode").GetString() == "101006/000001");
    }

    [Fact]
    public async Task ItemsCsv_BomFormulaGuardAndPutWithIfMatch()
    {
        var (police, client) = Department();
        await CatalogHttp.Send(client, HttpMethod.Post, "v1/catalog", CatalogHttp.Entry("301007/000001", police) with
        {
            Items = [new("formula", "=1+2", "utf8"), new("citizen_id", "公民身份号码", "utf8", 18, Masking: GovShare.Node.Desensitisation.MaskingRule.KeepEnds(6, 4))],
        });

        var get = await client.GetAsync("v1/catalog/301007-000001/items.csv");
        Assert.Equal("text/csv", get.Content.Headers.ContentType?.MediaType);
        var bytes = await get.Content.ReadAsByteArrayAsync();
        Assert.Equal(Encoding.UTF8.GetPreamble(), bytes[..3]);
        var text = Encoding.UTF8.GetString(bytes[3..]);
        Assert.Contains(",'=1+2,", text, StringComparison.Ordinal);

        var put = await CatalogHttp.SendCsv(client, "v1/catalog/301007-000001/items.csv", text + "gender,性别,utf8,1,true,true,public,none\r\n", get.Headers.ETag!.Tag);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var entry = await CatalogHttp.Json(await client.GetAsync("v1/catalog/301007-000001"));
        Assert.Equal(["=1+2", "公民身份号码", "性别"], entry.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()));
        Assert.Equal("keepEnds", entry.GetProperty("items")[1].GetProperty("masking").GetProperty("kind").GetString());
    }

    [Fact]
    public async Task ExportImport_RoundTripUpdatesAndCreates()
    {
        var (police, client) = Department();
        await CatalogHttp.Send(client, HttpMethod.Post, "v1/catalog", CatalogHttp.Entry("301008/000001", police));
        var export = await CatalogHttp.Json(await client.GetAsync("v1/catalog/export"));
        Assert.Equal(1, export.GetProperty("entries").GetArrayLength());

        var catalog = JsonSerializer.Deserialize<CatalogExport>(export.GetRawText(), CatalogJson.Options)!;
        var edited = catalog with { Entries = [catalog.Entries[0] with { Name = "改名" }, CatalogHttp.Entry("301008/000002", police)] };
        var imported = await CatalogHttp.Send(client, HttpMethod.Post, "v1/catalog/import", edited);
        Assert.Equal(HttpStatusCode.OK, imported.StatusCode);

        var again = await CatalogHttp.Send(client, HttpMethod.Post, "v1/catalog/import", edited);
        var problem = await ProblemAssert.IsProblemAsync(again, HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Contains("version.stale", problem.GetRawText(), StringComparison.Ordinal);
        Assert.Equal("改名", (await CatalogHttp.Json(await client.GetAsync("v1/catalog/301008-000001"))).GetProperty("name").GetString());
        Assert.Equal(2, (await CatalogHttp.Json(await client.GetAsync("v1/catalog/resources"))).GetProperty("total").GetInt32());
    }

    private (TestDepartment Department, HttpClient Client) Department()
    {
        var department = fixture.Pki.IssueDepartment();
        Node.Register(department);
        return (department, Node.Client(department.Certificate));
    }

    private async Task<HttpClient> OperatorClient()
    {
        var client = Node.ManagementClient();
        var token = await File.ReadAllTextAsync(Path.Combine(Node.DataPath, OperatorToken.FileName));
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token.Trim());
        return client;
    }

    private async Task<int> ChangeCount()
    {
        using var op = await OperatorClient();
        return (await CatalogHttp.Json(await op.GetAsync("v1/operator/catalog/changes?limit=10000"))).GetArrayLength();
    }
}

public sealed class CatalogRestartTests
{
    [Fact]
    public async Task Restart_CatalogAndChangeLogSurvive()
    {
        using var pki = new TestPki();
        await using var node = await CatalogHttp.StartNodeAsync(pki);
        var police = pki.IssueDepartment();
        node.Register(police);
        using (var client = node.Client(police.Certificate))
        {
            var entry = CatalogHttp.Entry("301009/000001", police);
            Assert.Equal(HttpStatusCode.Created, (await CatalogHttp.Send(client, HttpMethod.Post, "v1/catalog", entry)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await CatalogHttp.Send(client, HttpMethod.Put, "v1/catalog/301009-000001", entry with { Abstract = "第二版" }, ifMatch: "\"1\"")).StatusCode);
        }

        await node.RestartAsync();

        using var after = node.Client(police.Certificate);
        var stored = await CatalogHttp.Json(await after.GetAsync("v1/catalog/301009-000001"));
        Assert.Equal((2, "第二版"), (stored.GetProperty("version").GetInt32(), stored.GetProperty("abstract").GetString()));
        using var op = node.ManagementClient();
        op.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(Path.Combine(node.DataPath, OperatorToken.FileName))).Trim());
        var changes = await CatalogHttp.Json(await op.GetAsync("v1/operator/catalog/changes?code=301009-000001"));
        Assert.Equal(["created", "updated"], changes.EnumerateArray().Select(c => c.GetProperty("kind").GetString()));
        Assert.Equal("abstract", changes[1].GetProperty("fields")[0].GetProperty("path").GetString());
    }
}

/// <summary>Helpers of the catalog API tests.</summary>
internal static class CatalogHttp
{
    public const long MaxEntryBytes = GovShare.Node.Catalog.CatalogApi.MaxEntryBytes;

    /// <summary>A node whose working-day calendar also has a (test) 2027, so 30-working-day reviews opened late in 2026 have a due date.</summary>
    public static async Task<TestNode> StartNodeAsync(TestPki pki)
    {
        var holidays = Path.Combine(pki.Root, "holidays");
        Directory.CreateDirectory(holidays);
        await File.WriteAllTextAsync(Path.Combine(holidays, "2027.json"),
            """{ "year": 2027, "region": "TEST", "source": "test calendar: weekends only", "holidays": [], "workingDays": [] }""");
        return await TestNode.StartAsync(pki, configure: s => s["Calendar:HolidayFolder"] = holidays);
    }

    public static CatalogEntry Entry(string code, TestDepartment provider, ShareType share = ShareType.Unconditional, string name = "人口基本信息") =>
        CatalogFixture.Entry(code, CallerIdentity.Department(provider.Division, provider.CreditCode), share, name);

    public static async Task<HttpResponseMessage> Send(HttpClient client, HttpMethod method, string url, object? body, string? ifMatch = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (body is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(body, body.GetType(), CatalogJson.Options), Encoding.UTF8, "application/json");
        }

        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        return await client.SendAsync(request);
    }

    public static async Task<HttpResponseMessage> SendCsv(HttpClient client, string url, string csv, string? ifMatch)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, url) { Content = new StringContent(csv, Encoding.UTF8, "text/csv") };
        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        return await client.SendAsync(request);
    }

    public static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
