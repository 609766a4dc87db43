using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Apache.Arrow;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Hierarchy;
using GovShare.Node.Requests;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Hierarchy;

/// <summary>
/// A province (530000) and two prefectures (530100 Kunming, 530300 Qujing), each a real node
/// with its own certificate and data on loopback, linked by their operators.
/// </summary>
public sealed class NodeTreeTests : IAsyncLifetime
{
    private readonly TestPki _pki = new();
    private readonly int _provincePort = Loopback.FreePort();
    private TestNode _province = null!;
    private TestNode _kunming = null!;
    private TestNode _qujing = null!;
    private TestDepartment _provider = null!;
    private TestDepartment _user = null!;

    /// <summary>Qujing forwards bodies of at most 256 KiB (Kunming takes far larger comparisons).</summary>
    private const long ForwardCap = 256 * 1024;

    public async Task InitializeAsync()
    {
        static void Fast(Dictionary<string, string?> s)
        {
            s["Hierarchy:HealthInterval"] = "00:00:01";
            s["Hierarchy:PublishInterval"] = "00:00:01";
            // Generous: on a loaded machine a 2 s connect (4 s probe) timed out and marked live links down.
            s["Hierarchy:ConnectTimeout"] = "00:00:15";
        }

        _province = await TestNode.StartAsync(_pki, "530000", s =>
        {
            Fast(s);
            s["Node:ExchangeUrl"] = $"https://127.0.0.1:{_provincePort}";
        });
        _kunming = await TestNode.StartAsync(_pki, "530100", Fast);
        _qujing = await TestNode.StartAsync(_pki, "530300", s =>
        {
            Fast(s);
            s["Hierarchy:MaxForwardedBodyBytes"] = ForwardCap.ToString(System.Globalization.CultureInfo.InvariantCulture);
        });
        foreach (var child in new[] { _kunming, _qujing })
        {
            Assert.Empty(Links(_province).Link(child.Division, LinkRole.Child, child.ExchangeAddress.ToString(), _pki.NodeKey(child.Division), out _));
            Assert.Empty(Links(child).Link("530000", LinkRole.Parent, _province.ExchangeAddress.ToString(), _pki.NodeKey("530000"), out _));
        }

        _provider = _pki.IssueDepartment("530100", name: "Kunming Public Security Bureau");
        _kunming.Register(_provider);
        _user = _pki.IssueDepartment("530302", name: "Qilin District Civil Affairs Bureau");
        _qujing.Register(_user);

        var catalog = _kunming.Services.GetRequiredService<CatalogStore>();
        var caller = ExchangeFixture.Caller(_provider);
        Assert.True(catalog.Create(ExchangeFixture.Entry(ExchangeFixture.Unconditional, _provider, new ShareAttributes(ShareType.Unconditional)), caller).Succeeded);
        Assert.True(catalog.Create(ExchangeFixture.Entry(ExchangeFixture.Conditional, _provider, new ShareAttributes(ShareType.Conditional, Condition: "casework")), caller).Succeeded);
        using var client = _kunming.Client(_provider.Certificate);
        foreach (var code in new[] { ExchangeFixture.Unconditional, ExchangeFixture.Conditional })
        {
            var push = await client.PostAsync(ExchangeFixture.DataPath(code), ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync(ExchangeFixture.People(300))));
            Assert.Equal(HttpStatusCode.OK, push.StatusCode);
        }

        // The province's aggregate learns Kunming's catalog from Kunming's publisher.
        await EventuallyAsync(() => _province.Services.GetRequiredService<CatalogAggregate>().Find(ExchangeFixture.Conditional).Count == 1, "the province never received Kunming's catalog");
    }

    public async Task DisposeAsync()
    {
        foreach (var node in new[] { _qujing, _kunming, _province })
        {
            await node.DisposeAsync();
        }

        _pki.Dispose();
    }

    [Fact]
    public async Task QujingDepartment_FindsKunmingResourceInTreeCatalog()
    {
        using var client = _qujing.Client(_user.Certificate);

        var page = await client.GetFromJsonAsync<JsonElement>("v1/catalog/tree?q=Kunming residents");

        var entries = page.GetProperty("entries").EnumerateArray().ToList();
        Assert.Equal("530000", page.GetProperty("answeredBy").GetString());
        Assert.Contains(entries, e => e.GetProperty("ownerNode").GetString() == "530100" && e.GetProperty("entry").GetProperty("resourceCode").GetString() == ExchangeFixture.Unconditional);
        // The sharing view travels: items marked not shareable never leave their node.
        var unconditional = entries.First(e => e.GetProperty("entry").GetProperty("resourceCode").GetString() == ExchangeFixture.Unconditional);
        Assert.DoesNotContain(unconditional.GetProperty("entry").GetProperty("items").EnumerateArray(), i => i.GetProperty("id").GetString() == "address");
    }

    [Fact]
    public async Task QujingDepartment_PullsKunmingResourceThroughProvince_OwnerMasksAndAllThreeLogOneExchange()
    {
        using var client = _qujing.Client(_user.Certificate);

        using var pull = await client.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "social-assistance"));

        Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        var exchangeId = pull.Headers.GetValues(GovShareHeaders.ExchangeId).First();
        var (schema, batches) = await ExchangeFixture.ReadAsync(pull);
        Assert.Equal(["公民身份号码", "姓名", "出生日期", "Annual Income"], schema.FieldsList.Select(f => f.Name));
        Assert.Equal(300, batches.Sum(b => b.Length));
        var id = ExchangeFixture.IdNumber(5);
        Assert.Equal(id[..6] + "********" + id[^4..], ((StringArray)batches[0].Column(0)).GetString(5));

        Assert.Contains(_qujing.Logs, l => l.Contains("Forwarded", StringComparison.Ordinal) && l.Contains(exchangeId, StringComparison.Ordinal) && l.Contains("hop 1", StringComparison.Ordinal));
        Assert.Contains(_province.Logs, l => l.Contains("Forwarded", StringComparison.Ordinal) && l.Contains(exchangeId, StringComparison.Ordinal) && l.Contains("hop 2", StringComparison.Ordinal));
        Assert.Contains(_kunming.Logs, l => l.Contains("Pulled", StringComparison.Ordinal) && l.Contains(exchangeId, StringComparison.Ordinal) && l.Contains(_user.CreditCode, StringComparison.Ordinal));

        // The tamper-evident exchange logs of all three nodes hold the one exchange, each with its hop.
        var department = $"govshare:dept/530302/{_user.CreditCode}";
        var atQujing = Assert.Single(ExchangeRecords(_qujing), r => r.ExchangeId == exchangeId);
        Assert.Equal((GovShare.Node.Logs.ExchangeKind.Forward, 1, department), (atQujing.Kind, atQujing.Hop, atQujing.Caller));
        var atProvince = Assert.Single(ExchangeRecords(_province), r => r.ExchangeId == exchangeId);
        Assert.Equal((GovShare.Node.Logs.ExchangeKind.Forward, 2, "govshare:node/530300", department), (atProvince.Kind, atProvince.Hop, atProvince.Caller, atProvince.OnBehalfOf));
        var atOwner = Assert.Single(ExchangeRecords(_kunming), r => r.ExchangeId == exchangeId);
        Assert.Equal((GovShare.Node.Logs.ExchangeKind.Pull, 2, "govshare:node/530000", department, 300L), (atOwner.Kind, atOwner.Hop, atOwner.Caller, atOwner.OnBehalfOf, atOwner.Rows));
    }

    [Fact]
    public async Task QujingDepartment_ComparesWithKunmingResource_RoutedLikeAPull_OwnerJoinsUnderTheDepartmentsGrant()
    {
        using var client = _qujing.Client(_user.Certificate);
        const string query = "key=公民身份号码&items=姓名,birth_date";
        // No grant at Kunming yet: the owner refuses the department, as for a pull.
        using var refused = await Compare.CompareApiTests.CompareAsync(client, ExchangeFixture.Conditional, Compare.CompareApiTests.UserCopy(), "casework", query);
        await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.Forbidden, ProblemTypes.NoGrant);

        var now = DateTimeOffset.UtcNow;
        _kunming.Services.GetRequiredService<GrantStore>().Save(new Grant("g-compare", _user.Division, _user.CreditCode, ExchangeFixture.Conditional,
            [new GrantedItem("id_number", MaskingRule.None), new GrantedItem("name", MaskingRule.None), new GrantedItem("birth_date", MaskingRule.None)], "casework", now.AddMinutes(-1), now.AddDays(1), GrantStatus.Active, "operator", now));

        // Residents 0..249 (names changed for every 10th, birth dates left out for every 25th) and 1000..1049; Kunming holds 0..299.
        using var response = await Compare.CompareApiTests.CompareAsync(client, ExchangeFixture.Conditional, Compare.CompareApiTests.UserCopy(inBoth: 250, extra: 50), "casework", query);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((300L, 250L, 50L, 50L, 30L), (answer.GetProperty("resourceRows").GetInt64(), answer.GetProperty("rowsInBoth").GetInt64(), answer.GetProperty("onlyInSubmission").GetInt64(), answer.GetProperty("onlyInResource").GetInt64(), answer.GetProperty("differingRows").GetInt64()));
        var name = answer.GetProperty("items").EnumerateArray().Single(i => i.GetProperty("item").GetString() == "name");
        Assert.Equal((225L, 25L), (name.GetProperty("matched").GetInt64(), name.GetProperty("differing").GetInt64()));
        var exchangeId = answer.GetProperty("exchangeId").GetString();
        var department = $"govshare:dept/530302/{_user.CreditCode}";
        Assert.Equal(GovShare.Node.Logs.ExchangeKind.Forward, Assert.Single(ExchangeRecords(_qujing), r => r.ExchangeId == exchangeId).Kind);
        Assert.Equal(GovShare.Node.Logs.ExchangeKind.Forward, Assert.Single(ExchangeRecords(_province), r => r.ExchangeId == exchangeId).Kind);
        var atOwner = Assert.Single(ExchangeRecords(_kunming), r => r.ExchangeId == exchangeId);
        Assert.Equal((GovShare.Node.Logs.ExchangeKind.Compare, 2, department, 300L, "g-compare"), (atOwner.Kind, atOwner.Hop, atOwner.OnBehalfOf, atOwner.Rows, atOwner.GrantId));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ComparisonAboveTheForwardingCap_413NamingTheSetting_NotABrokenConnection(bool chunked)
    {
        using var client = _qujing.Client(_user.Certificate);
        var rows = await ExchangeFixture.StreamAsync(Compare.CompareApiTests.UserCopy(inBoth: 20_000, extra: 0));
        Assert.True(rows.Length > 2 * ForwardCap, $"the submission is only {rows.Length} bytes");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/resources/{ResourceCode.ToUrl(ExchangeFixture.Unconditional)}/compare?key=公民身份号码&items=姓名")
        {
            Content = chunked ? new StreamContent(new MemoryStream(rows)) : ExchangeFixture.ArrowContent(rows),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(MediaTypes.ArrowStream);
        request.Headers.TransferEncodingChunked = chunked;
        request.Headers.Add(GovShareHeaders.Purpose, "casework");

        using var refused = await client.SendAsync(request);

        var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.RequestEntityTooLarge, ProblemTypes.PayloadTooLarge);
        Assert.Contains("Hierarchy:MaxForwardedBodyBytes", problem.GetProperty("detail").GetString());
        // Qujing is still up and forwards what fits.
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "x"))).StatusCode);
    }

    [Fact]
    public async Task ConditionalResource_OwnerEnforcesTheRemoteDepartmentsGrant()
    {
        using var client = _qujing.Client(_user.Certificate);
        await ProblemAssert.IsProblemAsync(await client.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Conditional, "casework")), HttpStatusCode.Forbidden, ProblemTypes.NoGrant);

        var now = DateTimeOffset.UtcNow;
        _kunming.Services.GetRequiredService<GrantStore>().Save(new Grant("g1", _user.Division, _user.CreditCode, ExchangeFixture.Conditional,
            [new GrantedItem("name", MaskingRule.KeepEnds(1, 0))], "casework", now.AddMinutes(-1), now.AddDays(1), GrantStatus.Active, "operator", now));

        using var pull = await client.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Conditional, "casework"));
        var (schema, batches) = await ExchangeFixture.ReadAsync(pull);
        Assert.Equal(["姓名"], schema.FieldsList.Select(f => f.Name));
        Assert.Equal("张*", ((StringArray)batches[0].Column(0)).GetString(0));
        await ProblemAssert.IsProblemAsync(await client.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Conditional, "marketing")), HttpStatusCode.Forbidden, ProblemTypes.PurposeMismatch);
    }

    [Fact]
    public async Task QujingDepartment_AppliesThroughItsOwnNode_KunmingDecides_ThenPullsTheGrantedItems()
    {
        using var user = _qujing.Client(_user.Certificate);
        var today = DateOnly.FromDateTime(DateTime.UtcNow.AddHours(8));
        var application = new
        {
            resourceCode = ExchangeFixture.Conditional,
            items = new[] { "姓名", "出生日期" },
            purpose = new { code = "casework", text = "最低生活保障资格审核" },
            legalBasis = "《社会救助暂行办法》第十一条",
            period = new { from = today, to = today.AddDays(90) },
            contact = new { name = "张三", phone = "0874-3120000" },
        };

        // Qujing holds no such resource: the application travels to the provider's node.
        using var applied = await user.PostAsync("v1/requests", new StringContent(JsonSerializer.Serialize(application, CatalogJson.Options), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, applied.StatusCode);
        var id = (await applied.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;

        // The provider decides at its own node: fewer items, one masked.
        using var provider = _kunming.Client(_provider.Certificate);
        var decision = new { outcome = "approve", items = new object[] { new { item = "出生日期", masking = MaskingRule.GeneraliseDate(DatePrecision.Year) } } };
        using var decided = await provider.PostAsync($"v1/requests/{id}/decision", new StringContent(JsonSerializer.Serialize(decision, CatalogJson.Options), System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, decided.StatusCode);

        // The applicant follows its request at the provider's node through its own.
        var followed = await user.GetFromJsonAsync<JsonElement>($"v1/requests/{id}?node=530100");
        Assert.Equal("approved", followed.GetProperty("status").GetString(), ignoreCase: true);

        using var pull = await user.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Conditional, "casework"));
        var (schema, batches) = await ExchangeFixture.ReadAsync(pull);
        Assert.Equal(["出生日期"], schema.FieldsList.Select(f => f.Name));
        Assert.Equal("1950", ((StringArray)batches[0].Column(0)).GetString(0));
    }

    [Fact]
    public async Task Application_OversizedChunkedOrMalformed_RefusedPrecisely()
    {
        using var user = _qujing.Client(_user.Certificate);
        // No Content-Length: the size is only known as the bytes arrive.
        var huge = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes("{\"resourceCode\":\"" + new string('9', 3 * 1024 * 1024) + "\"}")));
        huge.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/requests") { Content = huge };
        request.Headers.TransferEncodingChunked = true;

        await ProblemAssert.IsProblemAsync(await user.SendAsync(request), HttpStatusCode.RequestEntityTooLarge, ProblemTypes.PayloadTooLarge);
        await ProblemAssert.IsProblemAsync(await user.PostAsync("v1/requests", new StringContent("{\"resourceCode\": ", System.Text.Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
        Assert.Empty(_qujing.Services.GetRequiredService<GovShare.Node.Requests.ShareRequestStore>().List(ExchangeFixture.Caller(_user), GovShare.Node.Requests.PartyRole.User, null));
    }

    [Fact]
    public async Task NamingAMalformedNode_400()
    {
        using var user = _qujing.Client(_user.Certificate);
        await ProblemAssert.IsProblemAsync(await user.GetAsync("v1/requests?node=53x100"), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
    }

    [Fact]
    public async Task PrefectureVouchingForAnotherPrefecturesDepartment_Refused()
    {
        using var qujingNode = _province.Client(_pki.NodeCertificate("530300"));
        using var request = ExchangeFixture.Pull(ExchangeFixture.Unconditional, "x");
        request.Headers.Add(GovShareHeaders.OnBehalfOf, $"govshare:dept/530102/{TestPki.NewCreditCode()}");

        await ProblemAssert.IsProblemAsync(await qujingNode.SendAsync(request), HttpStatusCode.Forbidden, ProblemTypes.VouchRefused);
    }

    [Fact]
    public async Task UnknownEverywhere_404FromTheRoot()
    {
        using var client = _qujing.Client(_user.Certificate);
        await ProblemAssert.IsProblemAsync(await client.SendAsync(ExchangeFixture.Pull("101001/000077", "x")), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task ParentDown_ClearProblemNamingTheHop_ParentBack_SamePullWorks()
    {
        using var client = _qujing.Client(_user.Certificate);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "x"))).StatusCode);

        await _province.Node.StopAsync();
        var clock = Stopwatch.StartNew();
        using var down = await client.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "x"));
        clock.Stop();

        Assert.True(down.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout, $"got {down.StatusCode}");
        var problem = await ProblemAssert.IsProblemAsync(down, down.StatusCode, down.StatusCode == HttpStatusCode.GatewayTimeout ? ProblemTypes.UpstreamTimeout : ProblemTypes.UpstreamUnavailable);
        Assert.Contains("530000", problem.GetProperty("title").GetString(), StringComparison.Ordinal);
        // Bounded: well within the HTTP client's own timeout, not a hang (a stopped node refuses the connection at once).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");

        await _province.RestartAsync();
        HttpStatusCode status = 0;
        await EventuallyAsync(async () =>
        {
            using var again = await client.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "x"));
            status = again.StatusCode;
            return status == HttpStatusCode.OK;
        }, "the pull never worked again after the parent came back");
    }

    private static List<GovShare.Node.Logs.LogRecord> ExchangeRecords(TestNode node) =>
        GovShare.Node.Logs.LogStore.ForDataFolder(node.DataPath).ReadEntries(GovShare.Node.Logs.LogKind.Exchange).Select(e => e.Record).OfType<GovShare.Node.Logs.LogRecord>().ToList();

    private static NodeLinkRegistry Links(TestNode node) => node.Services.GetRequiredService<NodeLinkRegistry>();

    private static Task EventuallyAsync(Func<bool> condition, string message) => EventuallyAsync(() => Task.FromResult(condition()), message);

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string message)
    {
        for (var i = 0; i < 200; i++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail(message);
    }
}
