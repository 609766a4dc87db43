using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Hierarchy;
using GovShare.Node.Identity;
using GovShare.Node.Pki;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Hierarchy;

/// <summary>
/// The whole tree of Art. 19–22 on loopback: a national stand-in (000000, its own PKI), the province
/// (530000) linked to it as its parent through <c>Upstream:*</c> settings — the national root trusted
/// for the national node only (<c>Upstream:ParentTrustAnchor</c>) and its key pinned — and two
/// prefectures (530100 Kunming, 530300 Qujing) below the province. Each is a real node with its own
/// certificate, data folder and TLS listener. Started once for the class: every test only reads.
/// </summary>
public sealed class NationalTree : IAsyncLifetime
{
    /// <summary>The province's resource its provider exposed nationally (catalog scope <c>national</c>).</summary>
    public const string ProvinceNational = "101001/000011";

    /// <summary>The province's resource shared within the province only (no scope: the default).</summary>
    public const string ProvinceOnly = "101001/000012";

    /// <summary>Kunming's resource exposed nationally: the province passes it up in its publication.</summary>
    public const string KunmingNational = "101001/000013";

    /// <summary>Kunming's resource shared within the province only.</summary>
    public const string KunmingOnly = "101001/000014";

    /// <summary>The province's conditional resource shared within the province only: what one applies for, disputes or passes on.</summary>
    public const string ProvinceOnlyConditional = "101001/000016";

    /// <summary>A national department's resource.</summary>
    public const string NationalResource = "101001/000015";

    public TestPki Yunnan { get; } = new();
    public TestPki Nation { get; } = TestPki.National();
    public TestNode National { get; private set; } = null!;
    public TestNode Province { get; private set; } = null!;
    public TestNode Kunming { get; private set; } = null!;
    public TestNode Qujing { get; private set; } = null!;
    public TestDepartment Ministry { get; private set; } = null!;
    public TestDepartment ProvinceBureau { get; private set; } = null!;
    public TestDepartment KunmingBureau { get; private set; } = null!;
    public TestDepartment WuhuaBureau { get; private set; } = null!;
    public TestDepartment QilinBureau { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        static void Fast(Dictionary<string, string?> s)
        {
            s["Hierarchy:HealthInterval"] = "00:00:01";
            s["Hierarchy:PublishInterval"] = "00:00:01";
            s["Hierarchy:ConnectTimeout"] = "00:00:05";
        }

        // The national node trusts its own root and, for the province's identities only (AuthorityScope),
        // the Yunnan root; it holds both CRLs.
        var nationalAnchors = Path.Combine(Nation.Root, "anchors-national-and-yunnan.pem");
        await File.WriteAllTextAsync(nationalAnchors, await File.ReadAllTextAsync(Nation.RootCertificateFile) + await File.ReadAllTextAsync(Yunnan.RootCertificateFile));
        File.Copy(Path.Combine(Yunnan.Folder.CrlFolder, "root.crl"), Path.Combine(Nation.Folder.CrlFolder, "yunnan-root.crl"));
        National = await TestNode.StartAsync(Nation, "000000", s =>
        {
            Fast(s);
            s["Node:TrustAnchors"] = nationalAnchors;
        });

        // The province: its own PKI, plus the national root for the national node only, and that root's CRL.
        var provinceCrls = Path.Combine(Yunnan.Root, "crl-province");
        Directory.CreateDirectory(provinceCrls);
        foreach (var crl in Directory.GetFiles(Yunnan.Folder.CrlFolder))
        {
            File.Copy(crl, Path.Combine(provinceCrls, Path.GetFileName(crl)));
        }

        File.Copy(Path.Combine(Nation.Folder.CrlFolder, "root.crl"), Path.Combine(provinceCrls, "national-root.crl"));
        Province = await TestNode.StartAsync(Yunnan, "530000", s =>
        {
            Fast(s);
            s["Node:CrlPath"] = provinceCrls;
            s["Upstream:ParentUrl"] = National.ExchangeAddress.ToString();
            s["Upstream:ParentDivisionCode"] = "000000";
            s["Upstream:ParentKeySha256"] = Nation.NodeKey("000000");
            s["Upstream:ParentTrustAnchor"] = Nation.RootCertificateFile;
        });
        Assert.Empty(Links(National).Link("530000", LinkRole.Child, Province.ExchangeAddress.ToString(), Yunnan.NodeKey("530000"), out _));

        Kunming = await TestNode.StartAsync(Yunnan, "530100", Fast);
        Qujing = await TestNode.StartAsync(Yunnan, "530300", Fast);
        foreach (var child in new[] { Kunming, Qujing })
        {
            Assert.Empty(Links(Province).Link(child.Division, LinkRole.Child, child.ExchangeAddress.ToString(), Yunnan.NodeKey(child.Division), out _));
            Assert.Empty(Links(child).Link("530000", LinkRole.Parent, Province.ExchangeAddress.ToString(), Yunnan.NodeKey("530000"), out _));
        }

        Ministry = Nation.IssueDepartment("000000", name: "Ministry of Civil Affairs");
        National.Register(Ministry);
        ProvinceBureau = Yunnan.IssueDepartment("530000", name: "Yunnan Provincial Public Security Department");
        Province.Register(ProvinceBureau);
        KunmingBureau = Yunnan.IssueDepartment("530100", name: "Kunming Public Security Bureau");
        Kunming.Register(KunmingBureau);
        // A county's department is registered at its prefecture's node (Art. 21): Wuhua District, Kunming.
        WuhuaBureau = Yunnan.IssueDepartment("530102", name: "Wuhua District Civil Affairs Bureau");
        Kunming.Register(WuhuaBureau);
        QilinBureau = Yunnan.IssueDepartment("530302", name: "Qilin District Civil Affairs Bureau");
        Qujing.Register(QilinBureau);

        // Each provider registers its entries through its node's catalog API, as departments do, the scope in the JSON.
        await CreateAndPushAsync(Province, ProvinceBureau, ProvinceNational, SharingScope.National);
        await CreateAndPushAsync(Province, ProvinceBureau, ProvinceOnly, null);
        await CreateAndPushAsync(Province, ProvinceBureau, ProvinceOnlyConditional, null, new ShareAttributes(ShareType.Conditional, Condition: "casework"));
        await CreateAndPushAsync(Kunming, KunmingBureau, KunmingNational, SharingScope.National);
        await CreateAndPushAsync(Kunming, KunmingBureau, KunmingOnly, null);
        await CreateAndPushAsync(National, Ministry, NationalResource, null);

        await EventuallyAsync(
            () => Aggregate(National).Find(KunmingNational).Count == 1 && Aggregate(National).Find(ProvinceNational).Count == 1,
            "the national node never received the province's publication with Kunming's nationally exposed entry");
        // Kunming publishes on its own schedule: the publication that carried its national entry up
        // may have been made before its province-only entry existed, so wait for that one too.
        await EventuallyAsync(
            () => Aggregate(Province).Find(KunmingOnly).Count == 1,
            "the province never received Kunming's publication with its province-only entry");
    }

    public async Task DisposeAsync()
    {
        foreach (var node in new[] { Qujing, Kunming, Province, National })
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }
        }

        Nation.Dispose();
        Yunnan.Dispose();
    }

    /// <summary>A client of the national node (its server certificate chains to the national root).</summary>
    public HttpClient NationalClient(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate) =>
        TestNode.ClientFor(Nation, National.ExchangeAddress, certificate);

    public static CatalogAggregate Aggregate(TestNode node) => node.Services.GetRequiredService<CatalogAggregate>();

    public static List<GovShare.Node.Logs.LogRecord> ExchangeRecords(TestNode node) =>
        GovShare.Node.Logs.LogStore.ForDataFolder(node.DataPath).ReadEntries(GovShare.Node.Logs.LogKind.Exchange).Select(e => e.Record).OfType<GovShare.Node.Logs.LogRecord>().ToList();

    private static NodeLinkRegistry Links(TestNode node) => node.Services.GetRequiredService<NodeLinkRegistry>();

    private async Task CreateAndPushAsync(TestNode node, TestDepartment provider, string code, SharingScope? scope, ShareAttributes? share = null)
    {
        using var client = node.Pki == Nation ? NationalClient(provider.Certificate) : node.Client(provider.Certificate);
        var entry = ExchangeFixture.Entry(code, provider, share ?? new ShareAttributes(ShareType.Unconditional)) with { Scope = scope };
        var json = JsonSerializer.Serialize(entry, CatalogJson.Options);
        Assert.Equal(scope is not null, json.Contains("\"scope\":\"national\"", StringComparison.Ordinal));
        using var created = await client.PostAsync("v1/catalog", new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.True(created.StatusCode == HttpStatusCode.Created, $"{code}: {(int)created.StatusCode} {await created.Content.ReadAsStringAsync()}");
        using var pushed = await client.PostAsync(ExchangeFixture.DataPath(code), ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync(ExchangeFixture.People(120))));
        Assert.Equal(HttpStatusCode.OK, pushed.StatusCode);
    }

    private static async Task EventuallyAsync(Func<bool> condition, string message)
    {
        for (var i = 0; i < 600; i++)
        {
            if (condition())
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail(message);
    }
}

/// <summary>Exchanges and trust across the national link (Art. 21), on the four nodes of <see cref="NationalTree"/>.</summary>
public sealed class NationalTreeTests(NationalTree tree) : IClassFixture<NationalTree>
{
    [Fact]
    public async Task NationalDepartment_PullsProvinceResourceExposedNationally_EveryHopLogsOneExchange()
    {
        using var client = tree.NationalClient(tree.Ministry.Certificate);

        using var pull = await client.SendAsync(ExchangeFixture.Pull(NationalTree.ProvinceNational, "civil-affairs"));

        Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        var (_, batches) = await ExchangeFixture.ReadAsync(pull);
        Assert.Equal(120, batches.Sum(b => b.Length));
        var exchangeId = pull.Headers.GetValues(GovShareHeaders.ExchangeId).First();
        var department = $"govshare:dept/000000/{tree.Ministry.CreditCode}";
        var atNational = Assert.Single(NationalTree.ExchangeRecords(tree.National), r => r.ExchangeId == exchangeId);
        Assert.Equal((GovShare.Node.Logs.ExchangeKind.Forward, 1, department), (atNational.Kind, atNational.Hop, atNational.Caller));
        var atProvince = Assert.Single(NationalTree.ExchangeRecords(tree.Province), r => r.ExchangeId == exchangeId);
        Assert.Equal((GovShare.Node.Logs.ExchangeKind.Pull, "govshare:node/000000", department, 120L), (atProvince.Kind, atProvince.Caller, atProvince.OnBehalfOf, atProvince.Rows));
    }

    [Fact]
    public async Task NationalDepartment_PullsKunmingResourceExposedNationally_ThroughTheProvince()
    {
        using var client = tree.NationalClient(tree.Ministry.Certificate);

        using var pull = await client.SendAsync(ExchangeFixture.Pull(NationalTree.KunmingNational, "civil-affairs"));

        Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        var (_, batches) = await ExchangeFixture.ReadAsync(pull);
        Assert.Equal(120, batches.Sum(b => b.Length));
        var exchangeId = pull.Headers.GetValues(GovShareHeaders.ExchangeId).First();
        var atKunming = Assert.Single(NationalTree.ExchangeRecords(tree.Kunming), r => r.ExchangeId == exchangeId);
        Assert.Equal((GovShare.Node.Logs.ExchangeKind.Pull, "govshare:node/530000", $"govshare:dept/000000/{tree.Ministry.CreditCode}"), (atKunming.Kind, atKunming.Caller, atKunming.OnBehalfOf));
    }

    [Fact]
    public void NationalPublication_CarriesOnlyNationallyScopedEntries_ProvincesAndPrefectures()
    {
        var atNational = NationalTree.Aggregate(tree.National).All().Select(e => (e.OwnerNode, e.Entry.ResourceCode)).Order().ToList();

        Assert.Equal([("530000", NationalTree.ProvinceNational), ("530100", NationalTree.KunmingNational)], atNational);
        // Inside the province everything shared still travels.
        Assert.Single(NationalTree.Aggregate(tree.Province).Find(NationalTree.KunmingOnly));
    }

    [Fact]
    public async Task NationalDepartment_ProvinceResourceNotExposed_NotFoundNationally_RefusedPreciselyWhenNamed()
    {
        using var client = tree.NationalClient(tree.Ministry.Certificate);

        // Never published nationally: the national node does not know it exists.
        await ProblemAssert.IsProblemAsync(await client.SendAsync(ExchangeFixture.Pull(NationalTree.ProvinceOnly, "civil-affairs")), HttpStatusCode.NotFound, ProblemTypes.NotFound);

        // Named by its node, the pull reaches the province, which refuses it: not shared beyond the province.
        using var named = ExchangeFixture.Pull(NationalTree.ProvinceOnly, "civil-affairs");
        named.RequestUri = new Uri(named.RequestUri!.OriginalString + "?node=530000", UriKind.Relative);
        var problem = await ProblemAssert.IsProblemAsync(await client.SendAsync(named), HttpStatusCode.Forbidden, ProblemTypes.NotSharedNationally);
        Assert.Contains("'national'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // So does Kunming for its own province-only resource, two hops down.
        using var kunming = ExchangeFixture.Pull(NationalTree.KunmingOnly, "civil-affairs");
        kunming.RequestUri = new Uri(kunming.RequestUri!.OriginalString + "?node=530100", UriKind.Relative);
        await ProblemAssert.IsProblemAsync(await client.SendAsync(kunming), HttpStatusCode.Forbidden, ProblemTypes.NotSharedNationally);
    }

    [Fact]
    public async Task NationalDepartment_ReadingTheProvincesCatalog_SeesOnlyNationallyScopedEntries()
    {
        using var client = tree.NationalClient(tree.Ministry.Certificate);

        var page = await client.GetFromJsonAsync<JsonElement>("v1/catalog?node=530000");
        var codes = page.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("resourceCode").GetString()).ToList();
        Assert.Equal([NationalTree.ProvinceNational], codes);
        Assert.Equal(1, page.GetProperty("total").GetInt32());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"v1/catalog/{ResourceCode.ToUrl(NationalTree.ProvinceNational)}?node=530000")).StatusCode);
        await ProblemAssert.IsProblemAsync(await client.GetAsync($"v1/catalog/{ResourceCode.ToUrl(NationalTree.ProvinceOnly)}?node=530000"), HttpStatusCode.Forbidden, ProblemTypes.NotSharedNationally);
        await ProblemAssert.IsProblemAsync(await client.GetAsync($"v1/catalog/{ResourceCode.ToUrl(NationalTree.ProvinceOnly)}/items.csv?node=530000"), HttpStatusCode.Forbidden, ProblemTypes.NotSharedNationally);

        // Inside the province the whole sharing catalog shows, as before.
        using var kunming = tree.Kunming.Client(tree.KunmingBureau.Certificate);
        var inside = await kunming.GetFromJsonAsync<JsonElement>("v1/catalog?node=530000");
        Assert.Equal(3, inside.GetProperty("total").GetInt32());
    }

    [Fact]
    public async Task QujingDepartment_TreeSearch_AnsweredByTheProvince_FindsProvinceOnlyResourcesStill()
    {
        using var client = tree.Qujing.Client(tree.QilinBureau.Certificate);

        var page = await client.GetFromJsonAsync<JsonElement>("v1/catalog/tree?q=Kunming residents");

        Assert.Equal("530000", page.GetProperty("answeredBy").GetString());
        var codes = page.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("entry").GetProperty("resourceCode").GetString()).ToList();
        Assert.Contains(NationalTree.KunmingOnly, codes);
        Assert.Contains(NationalTree.ProvinceOnly, codes);
    }

    [Fact]
    public async Task CountyDepartment_AtItsPrefecturesNode_PullsANationalResourceUpTheTree()
    {
        // National resources are shared down as the national department's share type says (unconditional here).
        using var client = tree.Kunming.Client(tree.WuhuaBureau.Certificate);

        using var pull = await client.SendAsync(ExchangeFixture.Pull(NationalTree.NationalResource, "assistance"));

        Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        var (_, batches) = await ExchangeFixture.ReadAsync(pull);
        Assert.Equal(120, batches.Sum(b => b.Length));
        var exchangeId = pull.Headers.GetValues(GovShareHeaders.ExchangeId).First();
        var atNational = Assert.Single(NationalTree.ExchangeRecords(tree.National), r => r.ExchangeId == exchangeId);
        Assert.Equal((GovShare.Node.Logs.ExchangeKind.Pull, 2, "govshare:node/530000", $"govshare:dept/530102/{tree.WuhuaBureau.CreditCode}"), (atNational.Kind, atNational.Hop, atNational.Caller, atNational.OnBehalfOf));
    }

    [Fact]
    public async Task NationalCa_PresentingAProvincialDepartmentOrNode_RefusedAtTheProvince()
    {
        var now = DateTimeOffset.UtcNow;
        // The national CA issues the identity of a department the province has registered, and of Kunming's node.
        foreach (var (name, profile) in new[]
        {
            ("impostor-dept", LeafProfile.Department("530000", tree.ProvinceBureau.CreditCode, "Impostor", now.AddMinutes(-5), now.AddDays(1))),
            ("impostor-node", LeafProfile.ForNode("530100", now.AddMinutes(-5), now.AddDays(1), ["localhost"], [IPAddress.Loopback])),
        })
        {
            using var certificate = TestPki.Load(tree.Nation.Folder.Issue(name, tree.Nation.Folder.Root(), profile));
            using var client = tree.Province.Client(certificate);

            var problem = await ProblemAssert.IsProblemAsync(await client.GetAsync("v1/identity"), HttpStatusCode.Unauthorized, ProblemTypes.IssuerOutOfScope);

            Assert.Contains("vouches only for govshare:node/000000", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ProvincialCa_PresentingTheNationalNode_RefusedAtTheProvinceAndAtTheNationalNode()
    {
        var now = DateTimeOffset.UtcNow;
        using var impostor = TestPki.Load(tree.Yunnan.Folder.Issue("impostor-national", tree.Yunnan.Folder.Root(), LeafProfile.ForNode("000000", now.AddMinutes(-5), now.AddDays(1), ["localhost"], [IPAddress.Loopback])));

        using var atProvince = tree.Province.Client(impostor);
        await ProblemAssert.IsProblemAsync(await atProvince.GetAsync("v1/identity"), HttpStatusCode.Unauthorized, ProblemTypes.IssuerOutOfScope);
        using var atNational = tree.NationalClient(impostor);
        await ProblemAssert.IsProblemAsync(await atNational.GetAsync("v1/identity"), HttpStatusCode.Unauthorized, ProblemTypes.IssuerOutOfScope);

        // Nor would the province reach it as its parent (what forwarding and linking check of the server).
        var trust = tree.Province.Services.GetRequiredService<TrustMaterial>();
        var crls = tree.Province.Services.GetRequiredService<CrlStore>();
        var pinned = tree.Nation.NodeKey("000000");
        Assert.NotNull(NodeForwarder.PeerProblem(impostor, trust, crls, "000000", null));
        using var real = tree.Nation.NodeCertificate("000000");
        Assert.Null(NodeForwarder.PeerProblem(real, trust, crls, "000000", pinned));
    }

    [Fact]
    public async Task NationalNode_WithAnotherKey_RefusedByThePin_AndNeverVouchesForAProvincialDepartment()
    {
        using var rekeyed = TestPki.Load(tree.Nation.Folder.Issue("node-000000-other", tree.Nation.Folder.Root(), LeafProfile.ForNode("000000", DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), ["localhost"], [IPAddress.Loopback])));
        var ministry = $"govshare:dept/000000/{tree.Ministry.CreditCode}";

        using var other = tree.Province.Client(rekeyed);
        using var request = ExchangeFixture.Pull(NationalTree.ProvinceNational, "civil-affairs");
        request.Headers.Add(GovShareHeaders.OnBehalfOf, ministry);
        await ProblemAssert.IsProblemAsync(await other.SendAsync(request), HttpStatusCode.Forbidden, ProblemTypes.NodeKeyNotPinned);
        var trust = tree.Province.Services.GetRequiredService<TrustMaterial>();
        Assert.Contains("not the one the link pins", NodeForwarder.PeerProblem(rekeyed, trust, tree.Province.Services.GetRequiredService<CrlStore>(), "000000", tree.Nation.NodeKey("000000")), StringComparison.Ordinal);

        // The real national node, vouching for one of the province's own departments (or a prefecture's), is refused.
        using var national = tree.Province.Client(tree.Nation.NodeCertificate("000000"));
        foreach (var insider in new[] { $"govshare:dept/530000/{tree.ProvinceBureau.CreditCode}", $"govshare:dept/530102/{tree.WuhuaBureau.CreditCode}" })
        {
            using var vouched = ExchangeFixture.Pull(NationalTree.ProvinceNational, "civil-affairs");
            vouched.Headers.Add(GovShareHeaders.OnBehalfOf, insider);
            var problem = await ProblemAssert.IsProblemAsync(await national.SendAsync(vouched), HttpStatusCode.Forbidden, ProblemTypes.VouchRefused);
            Assert.Contains("parent", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // Its own department it may vouch for.
        using var own = ExchangeFixture.Pull(NationalTree.ProvinceNational, "civil-affairs");
        own.Headers.Add(GovShareHeaders.OnBehalfOf, ministry);
        Assert.Equal(HttpStatusCode.OK, (await national.SendAsync(own)).StatusCode);
    }

    [Fact]
    public async Task NationalDepartment_VouchedForByTheNationalNode_MayNotApplyDisputeOrSeekConsent_ForAProvinceOnlyResource()
    {
        // The national node carries its department's request to the owning node, which decides (as for a pull).
        using var national = tree.Province.Client(tree.Nation.NodeCertificate("000000"));
        var ministry = $"govshare:dept/000000/{tree.Ministry.CreditCode}";
        var today = DateOnly.FromDateTime(DateTime.UtcNow.AddHours(8));
        var application = new
        {
            resourceCode = NationalTree.ProvinceOnlyConditional,
            items = new[] { "姓名" },
            purpose = new { code = "casework", text = "全国低保资格核查" },
            legalBasis = "《社会救助暂行办法》第十一条",
            period = new { from = today, to = today.AddDays(90) },
            contact = new { name = "李四", phone = "010-58123000" },
        };
        var requests = new (string Path, object Body)[]
        {
            ("v1/requests", application),
            ("v1/disputes", new { resourceCode = NationalTree.ProvinceOnlyConditional, dataVersion = "1", kind = "wrong", description = "出生日期与户籍档案不一致" }),
            ("v1/consents", new { resourceCode = NationalTree.ProvinceOnlyConditional, purpose = "casework", reason = "提供给民政部社会救助司", recipient = $"govshare:dept/000000/{tree.Ministry.CreditCode}" }),
        };

        foreach (var (path, body) in requests)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(body) };
            request.Headers.Add(GovShareHeaders.OnBehalfOf, ministry);

            var problem = await ProblemAssert.IsProblemAsync(await national.SendAsync(request), HttpStatusCode.Forbidden, ProblemTypes.NotSharedNationally);

            Assert.Contains("'national'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // Nothing was written at the province.
        var provider = CallerIdentity.TryParse($"govshare:dept/530000/{tree.ProvinceBureau.CreditCode}")!;
        Assert.Empty(tree.Province.Services.GetRequiredService<GovShare.Node.Requests.ShareRequestStore>().List(provider, GovShare.Node.Requests.PartyRole.Provider));
        Assert.Empty(tree.Province.Services.GetRequiredService<GovShare.Node.Requests.DisputeStore>().Open(false));
        Assert.Empty(tree.Province.Services.GetRequiredService<GovShare.Node.Requests.ConsentStore>().All());

        // Inside the province the same application is taken: the refusal is the scope, not the resource.
        using var kunming = tree.Kunming.Client(tree.KunmingBureau.Certificate);
        using var inside = await kunming.PostAsync("v1/requests", Json(application));
        Assert.True(inside.StatusCode == HttpStatusCode.Created, $"{(int)inside.StatusCode} {await inside.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task CatalogScope_UnknownValue_400NamingTheField()
    {
        using var client = tree.Province.Client(tree.ProvinceBureau.Certificate);
        var json = JsonSerializer.Serialize(ExchangeFixture.Entry("101001/000019", tree.ProvinceBureau, new ShareAttributes(ShareType.Unconditional)) with { Scope = SharingScope.National }, CatalogJson.Options)
            .Replace("\"scope\":\"national\"", "\"scope\":\"worldwide\"", StringComparison.Ordinal);

        var problem = await ProblemAssert.IsProblemAsync(await client.PostAsync("v1/catalog", new StringContent(json, Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);

        Assert.Contains("scope", problem.GetRawText(), StringComparison.Ordinal);
        Assert.Null(tree.Province.Services.GetRequiredService<CatalogStore>().Get("101001/000019"));
    }

    private static StringContent Json(object body) => new(JsonSerializer.Serialize(body, CatalogJson.Options), Encoding.UTF8, "application/json");
}
