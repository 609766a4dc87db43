using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using GovShare.Contract;
using GovShare.Node.Desensitisation;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Requests;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Exchange;

/// <summary>Push and pull through a real node over real TLS: per-item authorisation, purpose, masking, and every refusal.</summary>
public sealed class ExchangeApiTests : IAsyncLifetime
{
    private ExchangeFixture _f = null!;

    public async Task InitializeAsync() => _f = await ExchangeFixture.StartAsync();

    public async Task DisposeAsync() => await _f.DisposeAsync();

    [Fact]
    public async Task PushThenPull_Unconditional_SharedItemsEqualMaskedPerRuleUnshareableAbsent()
    {
        var push = await _f.PushAsync(Unconditional, 2500);
        Assert.Equal(HttpStatusCode.OK, push.StatusCode);
        var receipt = await push.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2500, receipt.GetProperty("rows").GetInt64());
        Assert.Equal(1, receipt.GetProperty("version").GetInt32());
        Assert.Equal(receipt.GetProperty("exchangeId").GetString(), push.Headers.GetValues(GovShareHeaders.ExchangeId).Single());

        using var client = _f.Node.Client(_f.User.Certificate);
        using var pull = await client.SendAsync(Pull(Unconditional, "social-assistance"));
        Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        Assert.Equal(MediaTypes.ArrowStream, pull.Content.Headers.ContentType?.MediaType);
        var (schema, batches) = await ReadAsync(pull);

        Assert.Equal(["公民身份号码", "姓名", "出生日期", "Annual Income"], schema.FieldsList.Select(f => f.Name));
        Assert.Equal(2500, batches.Sum(b => b.Length));
        var row = 0;
        foreach (var batch in batches)
        {
            for (var i = 0; i < batch.Length; i++, row++)
            {
                var id = IdNumber(row);
                Assert.Equal(id[..6] + new string('*', id.Length - 10) + id[^4..], ((StringArray)batch.Column(0)).GetString(i));
                Assert.Equal(Name(row), ((StringArray)batch.Column(1)).GetString(i));
                Assert.Equal(30000 + row, ((DoubleArray)batch.Column(3)).GetValue(i));
            }
        }
    }

    [Fact]
    public async Task Pull_NamedItemsInAnySpelling_ExactlyThoseColumns()
    {
        await _f.PushAsync(Unconditional, 10);
        using var client = _f.Node.Client(_f.User.Certificate);

        // Full-width letters, other case and spaces all canonicalise to the item "income" / "Annual Income".
        using var pull = await client.SendAsync(Pull(Unconditional, "stats", "ＡＮＮＵＡＬ  income , NAME"));

        Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        var (schema, _) = await ReadAsync(pull);
        Assert.Equal(["Annual Income", "姓名"], schema.FieldsList.Select(f => f.Name));
    }

    [Fact]
    public async Task Pull_UnshareableItemInAnySpelling_403NamingIt()
    {
        await _f.PushAsync(Unconditional, 10);
        using var client = _f.Node.Client(_f.User.Certificate);

        var problem = await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(Unconditional, "stats", "姓名,ADDRESS")), HttpStatusCode.Forbidden, ProblemTypes.ItemNotGranted);

        Assert.Contains("address", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// The pull reads <c>items</c> by a scan of the raw query when no name in it is escaped (QueryValues):
    /// the parameter is found in any case, its value decoded, and an escaped or repeated name still
    /// counts, as the parsed query gives them (NodeRoutingQueryTests compares the two spelling by spelling).
    /// </summary>
    [Fact]
    public async Task Pull_ItemsInAnyQuerySpelling_ExactlyThoseColumns()
    {
        await _f.PushAsync(Unconditional, 10);
        using var client = _f.Node.Client(_f.User.Certificate);

        foreach (var query in new[] { "items=NAME,income", "items=NAME%2C+income", "ITEMS=NAME,income", "Items=NAME,income&node=", "%69tems=NAME,income", "items=NAME&iTeMs=income" })
        {
            using var pull = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, DataPath(Unconditional, query)) { Headers = { { GovShareHeaders.Purpose, "stats" } } });

            Assert.True(pull.StatusCode == HttpStatusCode.OK, $"{query}: {pull.StatusCode}");
            var (schema, _) = await ReadAsync(pull);
            Assert.Equal(["姓名", "Annual Income"], schema.FieldsList.Select(f => f.Name));
        }
    }

    /// <summary>
    /// Routing reads <c>?node=</c> of a pull of a resource held here by the same scan and only then
    /// leaves it to the endpoint: a malformed node in any spelling the parsed query accepts is still
    /// refused (were it missed, the pull would be answered here with 200).
    /// </summary>
    [Fact]
    public async Task Pull_MalformedNodeInAnyQuerySpelling_400()
    {
        await _f.PushAsync(Unconditional, 10);
        using var client = _f.Node.Client(_f.User.Certificate);

        foreach (var query in new[] { "node=53x100", "Node=53x100", "NODE=53x100&items=name", "%6Eode=53x100", "no%64e=53x100", "node=53x100&node=530100", "node+x=1&node=5" })
        {
            using var pull = new HttpRequestMessage(HttpMethod.Get, DataPath(Unconditional, query)) { Headers = { { GovShareHeaders.Purpose, "stats" } } };
            var problem = await ProblemAssert.IsProblemAsync(await client.SendAsync(pull), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
            Assert.Equal("Malformed node", problem.GetProperty("title").GetString());
        }
    }

    [Fact]
    public async Task Pull_UnknownItem_400NamingIt()
    {
        await _f.PushAsync(Unconditional, 10);
        using var client = _f.Node.Client(_f.User.Certificate);

        var problem = await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(Unconditional, "stats", "姓名,salary")), HttpStatusCode.BadRequest, ProblemTypes.UnknownItem);

        Assert.Contains("salary", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_ConditionalWithGrant_ExactlyGrantedItemsMaskedAsGranted()
    {
        await _f.PushAsync(Conditional, 100);
        _f.GrantTo(_f.User, Conditional, "social-assistance",
            new GrantedItem("id_number", MaskingRule.KeepEnds(3, 2)),
            new GrantedItem("birth_date", MaskingRule.GeneraliseDate(DatePrecision.Year)));
        using var client = _f.Node.Client(_f.User.Certificate);

        using var pull = await client.SendAsync(Pull(Conditional, "social-assistance"));

        Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        var (schema, batches) = await ReadAsync(pull);
        Assert.Equal(["公民身份号码", "出生日期"], schema.FieldsList.Select(f => f.Name));
        var id = IdNumber(7);
        Assert.Equal(id[..3] + new string('*', id.Length - 5) + id[^2..], ((StringArray)batches[0].Column(0)).GetString(7));
        Assert.Equal((1950 + 7).ToString(System.Globalization.CultureInfo.InvariantCulture), ((StringArray)batches[0].Column(1)).GetString(7));
    }

    [Fact]
    public async Task Pull_GrantWhoseItemsAllLeftTheCatalog_403NotAServerError()
    {
        await _f.PushAsync(Conditional, 5);
        _f.GrantTo(_f.User, Conditional, "social-assistance", new GrantedItem("address", MaskingRule.None)); // an item that is not shareable
        using var client = _f.Node.Client(_f.User.Certificate);

        await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(Conditional, "social-assistance")), HttpStatusCode.Forbidden, ProblemTypes.ItemNotGranted);
    }

    [Fact]
    public async Task Pull_CatalogChangedSinceThePush_RenamedItemFoundByIdNewItemHasNoDataYet()
    {
        await _f.PushAsync(Unconditional, 5);
        var catalog = _f.Node.Services.GetRequiredService<GovShare.Node.Catalog.CatalogStore>();
        var entry = catalog.Get(Unconditional)!;
        var items = entry.Items.Select(i => i.Id == "name" ? i with { Name = "姓名（户籍）" } : i)
            .Append(new GovShare.Node.Catalog.InformationItem("phone", "联系电话", "utf8", 20))
            .ToList();
        Assert.True(catalog.Update(Unconditional, entry with { Items = items }, entry.Version, ExchangeFixture.Caller(_f.Provider)).Succeeded);
        using var client = _f.Node.Client(_f.User.Certificate);

        using (var all = await client.SendAsync(Pull(Unconditional, "stats")))
        {
            var (schema, batches) = await ReadAsync(all);
            Assert.Equal(["公民身份号码", "姓名（户籍）", "出生日期", "Annual Income"], schema.FieldsList.Select(f => f.Name));
            Assert.Equal(Name(2), ((StringArray)batches[0].Column(1)).GetString(2));
        }

        await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(Unconditional, "stats", "联系电话")), HttpStatusCode.Conflict, ProblemTypes.NoData);
    }

    [Fact]
    public async Task Pull_ConditionalWithoutGrant_403NoGrant()
    {
        await _f.PushAsync(Conditional, 10);
        using var client = _f.Node.Client(_f.User.Certificate);
        await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(Conditional, "social-assistance")), HttpStatusCode.Forbidden, ProblemTypes.NoGrant);
    }

    [Fact]
    public async Task Pull_GrantOfAnotherDepartment_403NoGrant()
    {
        await _f.PushAsync(Conditional, 10);
        _f.GrantTo(_f.User, Conditional, "social-assistance", new GrantedItem("name", MaskingRule.None));
        using var client = _f.Node.Client(_f.Other.Certificate);
        await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(Conditional, "social-assistance")), HttpStatusCode.Forbidden, ProblemTypes.NoGrant);
    }

    [Fact]
    public async Task Pull_PurposeNotTheGrants_403PurposeMismatch()
    {
        await _f.PushAsync(Conditional, 10);
        _f.GrantTo(_f.User, Conditional, "social-assistance", new GrantedItem("name", MaskingRule.None));
        using var client = _f.Node.Client(_f.User.Certificate);

        var problem = await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(Conditional, "marketing")), HttpStatusCode.Forbidden, ProblemTypes.PurposeMismatch);

        Assert.Contains("social-assistance", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_ItemOutsideTheGrant_403NamingIt()
    {
        await _f.PushAsync(Conditional, 10);
        _f.GrantTo(_f.User, Conditional, "social-assistance", new GrantedItem("name", MaskingRule.None));
        using var client = _f.Node.Client(_f.User.Certificate);

        var problem = await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(Conditional, "social-assistance", "姓名,公民身份号码")), HttpStatusCode.Forbidden, ProblemTypes.ItemNotGranted);

        Assert.Contains("id_number", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_RevokedOrExpiredGrant_403()
    {
        await _f.PushAsync(Conditional, 10);
        var grant = _f.GrantTo(_f.User, Conditional, "social-assistance", new GrantedItem("name", MaskingRule.None));
        var grants = _f.Node.Services.GetRequiredService<GrantStore>();
        using var client = _f.Node.Client(_f.User.Certificate);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Pull(Conditional, "social-assistance"))).StatusCode);

        grants.SetStatus(grant.Id, GrantStatus.Revoked, "no longer needed", DateTimeOffset.UtcNow);

        await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(Conditional, "social-assistance")), HttpStatusCode.Forbidden, ProblemTypes.NoGrant);
        grants.Save(grant with { Id = "expired", ValidTo = DateTimeOffset.UtcNow.AddMinutes(-1) });
        await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(Conditional, "social-assistance")), HttpStatusCode.Forbidden, ProblemTypes.NoGrant);
    }

    [Fact]
    public async Task Pull_NotShared_403WithReason()
    {
        await _f.PushAsync(NotShared, 10);
        using var client = _f.Node.Client(_f.User.Certificate);

        var problem = await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(NotShared, "any")), HttpStatusCode.Forbidden, ProblemTypes.NotShared);

        Assert.Contains("State secret", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pull_Provider_SeesItsOwnDataUnmasked()
    {
        await _f.PushAsync(NotShared, 10);
        using var client = _f.Node.Client(_f.Provider.Certificate);

        using var pull = await client.SendAsync(Pull(NotShared, "verification"));

        var (schema, batches) = await ReadAsync(pull);
        Assert.Equal(5, schema.FieldsList.Count);
        Assert.Equal(IdNumber(3), ((StringArray)batches[0].Column(0)).GetString(3));
    }

    [Theory]
    [InlineData(null, ProblemTypes.PurposeRequired)]
    [InlineData("", ProblemTypes.PurposeRequired)]
    [InlineData("../../etc", ProblemTypes.MalformedRequest)]
    [InlineData("a purpose with spaces", ProblemTypes.MalformedRequest)]
    public async Task Pull_MissingOrMalformedPurpose_400(string? purpose, string type)
    {
        await _f.PushAsync(Unconditional, 10);
        using var client = _f.Node.Client(_f.User.Certificate);
        await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(Unconditional, purpose)), HttpStatusCode.BadRequest, type);
    }

    [Theory]
    [InlineData("..%2F..%2Fetc")]
    [InlineData("101001-00000")]
    [InlineData("999999999999999999-000001")]
    public async Task Pull_MalformedResourceCode_400(string code)
    {
        using var client = _f.Node.Client(_f.User.Certificate);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"v1/resources/{code}/data");
        request.Headers.Add(GovShareHeaders.Purpose, "x");
        await ProblemAssert.IsProblemAsync(await client.SendAsync(request), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
    }

    [Fact]
    public async Task Pull_UnknownResourceOrNoData_404()
    {
        using var client = _f.Node.Client(_f.User.Certificate);
        await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull("101001/000099", "x")), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(Unconditional, "x")), HttpStatusCode.NotFound, ProblemTypes.NoData);
    }

    [Fact]
    public async Task Pull_AsJsonAndCsv_SameItemsSameMasking()
    {
        await _f.PushAsync(Unconditional, 3);
        using var client = _f.Node.Client(_f.User.Certificate);

        using var json = await client.SendAsync(Pull(Unconditional, "stats", "公民身份号码,姓名,出生日期", "application/json"));
        var rows = await json.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(3, rows.GetArrayLength());
        Assert.Equal(IdNumber(1)[..6] + "********" + IdNumber(1)[^4..], rows[1].GetProperty("公民身份号码").GetString());
        Assert.Equal("1951-02-02", rows[1].GetProperty("出生日期").GetString());

        using var csv = await client.SendAsync(Pull(Unconditional, "stats", "姓名,Annual Income", "text/csv"));
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync()).TrimStart('\uFEFF').Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["姓名,Annual Income", "张三,30000", "李四光,30001", "张三,30002"], lines);
    }

    [Fact]
    public async Task Pull_TextOverTheCap_406()
    {
        await using var f = await ExchangeFixture.StartAsync(s => s["Exchange:MaxTextRows"] = "5");
        await f.PushAsync(Unconditional, 6);
        using var client = f.Node.Client(f.User.Certificate);

        await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(Unconditional, "stats", accept: "application/json")), HttpStatusCode.NotAcceptable, ProblemTypes.ResultTooLargeForText);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Pull(Unconditional, "stats"))).StatusCode);
    }

    [Fact]
    public async Task Pull_AcceptRulesOutJson_406ProblemStillNamesInstanceAndTraceId()
    {
        await _f.PushAsync(Unconditional, 3);
        using var client = _f.Node.Client(_f.User.Certificate);

        var problem = await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(Unconditional, "stats", accept: "text/xml")), HttpStatusCode.NotAcceptable, ProblemTypes.UnsupportedMediaType);

        Assert.StartsWith("/v1/resources/", problem.GetProperty("instance").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()));
    }

    [Theory]
    [InlineData("text/xml")]
    [InlineData("text/csv")]
    [InlineData("application/vnd.apache.arrow.stream")]
    public async Task Refusals_WhateverTheAcceptHeader_AreProblemJsonNamingInstanceAndTraceId(string accept)
    {
        using var client = _f.Node.Client(_f.User.Certificate);
        async Task<JsonElement> Refused(string path, HttpStatusCode status, string type)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Accept.ParseAdd(accept);
            var problem = await ProblemAssert.IsProblemAsync(await client.SendAsync(request), status, type);
            Assert.Equal("/" + path, problem.GetProperty("instance").GetString());
            Assert.False(string.IsNullOrEmpty(problem.GetProperty("traceId").GetString()));
            return problem;
        }

        // An endpoint's own refusal, the catalog's 404, and a path no endpoint serves (status code pages).
        await Refused($"v1/resources/{GovShare.Node.Catalog.ResourceCode.ToUrl(Unconditional)}/versions", HttpStatusCode.Forbidden, ProblemTypes.NotProvider);
        await Refused("v1/catalog/102001-999999", HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await Refused("v1/no-such-endpoint", HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task Push_Append_NewVersionHoldsBoth()
    {
        await _f.PushAsync(Unconditional, 10);
        var append = await _f.PushAsync(Unconditional, 5, "append");
        Assert.Equal(HttpStatusCode.OK, append.StatusCode);
        Assert.Equal(2, (await append.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("version").GetInt32());

        using var client = _f.Node.Client(_f.User.Certificate);
        var (_, batches) = await ReadAsync(await client.SendAsync(Pull(Unconditional, "stats")));
        Assert.Equal(15, batches.Sum(b => b.Length));
    }

    [Fact]
    public async Task Push_ByAnotherDepartment_403AndNothingPublished()
    {
        using var client = _f.Node.Client(_f.User.Certificate);

        var response = await client.PostAsync(DataPath(Unconditional), ArrowContent(await StreamAsync(People(5))));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Forbidden, ProblemTypes.NotProvider);
        AssertNoVersion(Unconditional);
    }

    [Fact]
    public async Task Push_WrongSchema_400NamingEveryColumnAndNothingPublished()
    {
        var schema = new Schema.Builder()
            .Field(new Field("公民身份号码", Int64Type.Default, false))
            .Field(new Field("姓名", StringType.Default, true))
            .Field(new Field("salary", DoubleType.Default, true))
            .Build();
        using var batch = new RecordBatch(schema, [new Int64Array.Builder().Append(1).Build(), new StringArray.Builder().Append("x").Build(), new DoubleArray.Builder().Append(1).Build()], 1);
        using var client = _f.Node.Client(_f.Provider.Certificate);

        var response = await client.PostAsync(DataPath(Unconditional), ArrowContent(await StreamAsync([batch])));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.SchemaMismatch);
        var errors = problem.GetProperty("errors").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Contains(errors, e => e.Contains("'公民身份号码' is int64", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Missing column '出生日期'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Extra column 'salary'", StringComparison.Ordinal));
        AssertNoVersion(Unconditional);
    }

    [Fact]
    public async Task Push_ColumnsNamedByItemIdInAnotherOrder_MappedToTheCatalogsItems()
    {
        var people = People(4).Single();
        var schema = new Schema.Builder()
            .Field(new Field("income", DoubleType.Default, true))
            .Field(new Field("ADDRESS", StringType.Default, true))
            .Field(new Field("name", StringType.Default, true))
            .Field(new Field("birth_date", Date32Type.Default, true))
            .Field(new Field("Id_Number", StringType.Default, false))
            .Build();
        using var reordered = new RecordBatch(schema, [people.Column(3), people.Column(4), people.Column(1), people.Column(2), people.Column(0)], 4);
        using var client = _f.Node.Client(_f.Provider.Certificate);

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync(DataPath(Unconditional), ArrowContent(await StreamAsync([reordered])))).StatusCode);

        using var user = _f.Node.Client(_f.User.Certificate);
        var (pulledSchema, batches) = await ReadAsync(await user.SendAsync(Pull(Unconditional, "stats")));
        Assert.Equal(["公民身份号码", "姓名", "出生日期", "Annual Income"], pulledSchema.FieldsList.Select(f => f.Name));
        Assert.Equal(Name(1), ((StringArray)batches[0].Column(1)).GetString(1));
        Assert.Equal(30002, ((DoubleArray)batches[0].Column(3)).GetValue(2));
    }

    [Fact]
    public async Task Push_TwoColumnsForOneItem_400()
    {
        var people = People(2).Single();
        var schema = new Schema.Builder()
            .Field(new Field("公民身份号码", StringType.Default, false))
            .Field(new Field("id_number", StringType.Default, false))
            .Build();
        using var doubled = new RecordBatch(schema, [people.Column(0), people.Column(0)], 2);
        using var client = _f.Node.Client(_f.Provider.Certificate);

        var problem = await ProblemAssert.IsProblemAsync(await client.PostAsync(DataPath(Unconditional), ArrowContent(await StreamAsync([doubled]))), HttpStatusCode.BadRequest, ProblemTypes.SchemaMismatch);

        Assert.Contains(problem.GetProperty("errors").EnumerateArray(), e => e.GetString()!.Contains("are both item", StringComparison.Ordinal));
        AssertNoVersion(Unconditional);
    }

    [Fact]
    public async Task Push_NullInRequiredItem_400AndNothingPublished()
    {
        var batch = People(3).Single();
        var ids = new StringArray.Builder().Append("x").AppendNull().Append("y").Build();
        using var broken = new RecordBatch(batch.Schema, [ids, batch.Column(1), batch.Column(2), batch.Column(3), batch.Column(4)], 3);
        using var client = _f.Node.Client(_f.Provider.Certificate);

        var response = await client.PostAsync(DataPath(Unconditional), ArrowContent(await StreamAsync([broken])));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.InvalidValue);
        var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
        Assert.Equal(("id_number", 0, 1, "required"), (error.GetProperty("item").GetString(), error.GetProperty("batch").GetInt32(), error.GetProperty("row").GetInt32(), error.GetProperty("rule").GetString()));
        AssertNoVersion(Unconditional);
    }

    [Fact]
    public async Task Push_TruncatedOrGarbageStream_400AndPreviousVersionIntact()
    {
        await _f.PushAsync(Unconditional, 20);
        var stream = await StreamAsync(People(3000));
        using var client = _f.Node.Client(_f.Provider.Certificate);

        var truncated = await client.PostAsync(DataPath(Unconditional), ArrowContent(stream[..(stream.Length / 2)]));
        var garbage = await client.PostAsync(DataPath(Unconditional), ArrowContent(System.Text.Encoding.UTF8.GetBytes("{\"not\":\"arrow\"}")));

        await ProblemAssert.IsProblemAsync(truncated, HttpStatusCode.BadRequest, ProblemTypes.InvalidArrowStream);
        await ProblemAssert.IsProblemAsync(garbage, HttpStatusCode.BadRequest, ProblemTypes.InvalidArrowStream);
        var latest = _f.Node.Services.GetRequiredService<DatasetStore>().Latest(Unconditional)!;
        Assert.Equal((1, 20L), (latest.Version, latest.Rows));
    }

    [Fact]
    public async Task Push_WrongContentTypeOrMode_RefusedAndNothingPublished()
    {
        using var client = _f.Node.Client(_f.Provider.Certificate);
        var bytes = await StreamAsync(People(2));
        var json = new ByteArrayContent(bytes);
        json.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");

        await ProblemAssert.IsProblemAsync(await client.PostAsync(DataPath(Unconditional), json), HttpStatusCode.UnsupportedMediaType, ProblemTypes.UnsupportedMediaType);
        await ProblemAssert.IsProblemAsync(await client.PostAsync(DataPath(Unconditional, "mode=upsert"), ArrowContent(bytes)), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
        AssertNoVersion(Unconditional);
    }

    [Fact]
    public async Task Push_OverTheSizeCap_413AndNothingPublished()
    {
        await using var f = await ExchangeFixture.StartAsync(s => s["Exchange:MaxPushBytes"] = "4096");
        using var client = f.Node.Client(f.Provider.Certificate);

        var response = await client.PostAsync(DataPath(Unconditional), ArrowContent(await StreamAsync(People(2000))));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, ProblemTypes.PayloadTooLarge);
        Assert.Null(f.Node.Services.GetRequiredService<DatasetStore>().Latest(Unconditional));

        // Chunked, as a tool that converts while it uploads sends it: the cap is passed part-way
        // through the body, and the client still reads the 413 naming the cap (not a broken pipe).
        using var chunked = new HttpRequestMessage(HttpMethod.Post, DataPath(Unconditional)) { Content = ArrowContent(await StreamAsync(People(20_000))) };
        chunked.Headers.TransferEncodingChunked = true;
        var problem = await ProblemAssert.IsProblemAsync(await client.SendAsync(chunked), HttpStatusCode.RequestEntityTooLarge, ProblemTypes.PayloadTooLarge);
        Assert.Contains("At most 4096 bytes per push of 101001/000001 (the node's Exchange:MaxPushBytes", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Null(f.Node.Services.GetRequiredService<DatasetStore>().Latest(Unconditional));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(f.Node.DataPath, "datasets"), "*.tmp"));
    }

    [Fact]
    public async Task Push_AbortedMidStream_PreviousVersionIntactNoStrayFiles()
    {
        await _f.PushAsync(Unconditional, 20);
        var bytes = await StreamAsync(People(20000));
        using var client = _f.Node.Client(_f.Provider.Certificate);
        using var abort = new CancellationTokenSource();
        var content = new StreamContent(new AbortingStream(bytes, bytes.Length / 3, abort));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(MediaTypes.ArrowStream);

        await Assert.ThrowsAnyAsync<Exception>(() => client.PostAsync(DataPath(Unconditional), content, abort.Token));

        var store = _f.Node.Services.GetRequiredService<DatasetStore>();
        await EventuallyAsync(() => !Directory.EnumerateFiles(Path.Combine(_f.Node.DataPath, "datasets"), "*.tmp").Any());
        Assert.Equal((1, 20L), (store.Latest(Unconditional)!.Version, store.Latest(Unconditional)!.Rows));

        // A node restarted after an interrupted push serves the previous version.
        await _f.Node.RestartAsync();
        using var after = _f.Node.Client(_f.User.Certificate);
        var (_, batches) = await ReadAsync(await after.SendAsync(Pull(Unconditional, "stats")));
        Assert.Equal(20, batches.Sum(b => b.Length));
    }

    [Fact]
    public async Task Pull_GrantRevokedDuringPull_StreamIsCutBeforeItsEnd()
    {
        Assert.Equal(HttpStatusCode.OK, (await _f.PushAsync(Conditional, 400_000)).StatusCode);
        var grant = _f.GrantTo(_f.User, Conditional, "social-assistance", new GrantedItem("id_number", MaskingRule.None), new GrantedItem("name", MaskingRule.None));
        using var client = _f.Node.Client(_f.User.Certificate);
        using var response = await client.SendAsync(Pull(Conditional, "social-assistance"), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var stream = await response.Content.ReadAsStreamAsync();
        using var reader = new ArrowStreamReader(stream);
        using (var first = await reader.ReadNextRecordBatchAsync())
        {
            Assert.NotNull(first);
        }

        _f.Node.Services.GetRequiredService<GrantStore>().SetStatus(grant.Id, GrantStatus.Revoked, "revoked by the provider", DateTimeOffset.UtcNow);

        // Reading on must fail before the end-of-stream marker: the user never gets the whole resource.
        long rows = 0;
        var cut = await Record.ExceptionAsync(async () =>
        {
            while (await reader.ReadNextRecordBatchAsync() is { } batch)
            {
                rows += batch.Length;
                batch.Dispose();
            }
        });
        Assert.NotNull(cut);
        Assert.True(rows < 400_000 - 1000, $"read {rows} rows after the revocation");
        Assert.Contains(_f.Node.Logs, l => l.Contains("PullCut", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Pull_ReadByNodeApacheArrow_RowsColumnsAndMaskedValue()
    {
        await _f.PushAsync(Unconditional, 25);
        using var client = _f.Node.Client(_f.User.Certificate);
        using var pull = await client.SendAsync(Pull(Unconditional, "stats", "公民身份号码,姓名"));
        var file = Path.Combine(_f.Node.DataPath, "pulled.arrows");
        await File.WriteAllBytesAsync(file, await pull.Content.ReadAsByteArrayAsync());

        using var result = JsonDocument.Parse(await ArrowInteropTests.RunNodeAsync(Path.Combine(await ArrowInteropTests.InstalledInteropAsync(), "read-stream.mjs"), file));

        var root = result.RootElement;
        Assert.Equal(25, root.GetProperty("rows").GetInt32());
        Assert.Equal(["公民身份号码", "姓名"], root.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        var id = IdNumber(24);
        Assert.Equal(id[..6] + "********" + id[^4..], root.GetProperty("values").GetProperty("公民身份号码")[24].GetString());
    }

    private void AssertNoVersion(string code) => Assert.Null(_f.Node.Services.GetRequiredService<DatasetStore>().Latest(code));

    private static async Task EventuallyAsync(Func<bool> condition)
    {
        for (var i = 0; i < 100 && !condition(); i++)
        {
            await Task.Delay(100);
        }

        Assert.True(condition());
    }

    /// <summary>A request body that sends part of its bytes, then breaks the connection off.</summary>
    private sealed class AbortingStream(byte[] bytes, int cutAt, CancellationTokenSource abort) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position >= cutAt)
            {
                await Task.Delay(200, CancellationToken.None);
                await abort.CancelAsync();
                throw new IOException("the department's system went away");
            }

            var count = Math.Min(buffer.Length, Math.Min(16 * 1024, cutAt - _position));
            bytes.AsMemory(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
