using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Hierarchy;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using GovShare.Node.Management;
using GovShare.Node.Pki;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Identity;

/// <summary>
/// Issue 15, tried as an attacker would, against a real Kunming node (530100) on loopback with
/// real TLS and a real PKI: a CA speaks only for its own division, node certificates come only
/// from the root, a linked node is pinned by its key, and operators and departments each open
/// only their own listener. Every refusal is checked with its problem+json and its log line;
/// every operator action with the change-log record that names the operator.
/// </summary>
public sealed class TrustBoundaryTests : IAsyncLifetime
{
    private readonly TestPki _pki = new();
    private TestNode _kunming = null!;

    public async Task InitializeAsync()
    {
        // Operators are people: the management listener speaks TLS and takes their certificates.
        _kunming = await TestNode.StartAsync(_pki, "530100", s => s["Node:ManagementUrl"] = "https://127.0.0.1:0");
        // The province is Kunming's parent, pinned to the province node's genuine key (no province process needed
        // to test what Kunming accepts from a caller claiming to be it).
        Assert.Empty(Links.Link("530000", LinkRole.Parent, "https://127.0.0.1:1", _pki.NodeKey("530000"), out _));
    }

    public async Task DisposeAsync()
    {
        await _kunming.DisposeAsync();
        _pki.Dispose();
    }

    private NodeLinkRegistry Links => _kunming.Services.GetRequiredService<NodeLinkRegistry>();

    [Fact]
    public async Task SiblingPrefectureCa_IssuingAKunmingDepartment_401IssuerOutOfScope()
    {
        // The attack of the issue: Qujing's CA makes a certificate for the Kunming Public Security Bureau.
        var code = TestPki.NewCreditCode();
        var now = DateTimeOffset.UtcNow;
        var impostor = _pki.IssueFrom("530300", $"qujing-made-{code}", LeafProfile.Department("530100", code, "Kunming Public Security Bureau", now.AddMinutes(-5), now.AddDays(30)));
        Assert.Empty(_kunming.Services.GetRequiredService<DepartmentRegistry>().Register("530100", code, "Kunming Public Security Bureau", out _));

        using var client = _kunming.Client(impostor.Certificate);
        var problem = await ProblemAssert.IsProblemAsync(await client.GetAsync("v1/identity"), HttpStatusCode.Unauthorized, ProblemTypes.IssuerOutOfScope);

        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("a CA speaks only for its own division", detail, StringComparison.Ordinal);
        Assert.Contains("govshare:ca/530300", detail, StringComparison.Ordinal);
        AssertLogged("IssuerOutOfScope", $"govshare:dept/530100/{code}");
    }

    [Theory]
    [InlineData("530300")] // a sibling prefecture's CA
    [InlineData("530100")] // Kunming's own CA: still not a CA for nodes
    public async Task PrefectureCa_IssuingTheProvinceNode_WithOnBehalfOf_401IssuerOutOfScope(string caId)
    {
        var department = _pki.IssueDepartment("530100");
        _kunming.Register(department);
        var now = DateTimeOffset.UtcNow;
        var fakeProvince = _pki.IssueFrom(caId, $"fake-province-{caId}", LeafProfile.ForNode("530000", now.AddMinutes(-5), now.AddDays(30), ["localhost"], [IPAddress.Loopback]));

        using var client = _kunming.Client(fakeProvince.Certificate);
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/identity");
        request.Headers.Add(GovShareHeaders.OnBehalfOf, $"govshare:dept/530100/{department.CreditCode}");
        var problem = await ProblemAssert.IsProblemAsync(await client.SendAsync(request), HttpStatusCode.Unauthorized, ProblemTypes.IssuerOutOfScope);

        Assert.Contains("node certificates come only from the root CA", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        AssertLogged("IssuerOutOfScope", "govshare:node/530000");
    }

    [Fact]
    public async Task RootForAPrefectureDepartment_AndPrefectureCaForItsCounty_Accepted()
    {
        // The boundary holds both ways: the root speaks for the whole province, Kunming's CA for its counties.
        var now = DateTimeOffset.UtcNow;
        var byRootCode = TestPki.NewCreditCode();
        var byRoot = _pki.IssueFrom("root", $"root-made-{byRootCode}", LeafProfile.Department("530100", byRootCode, "Kunming Bureau of Statistics", now.AddMinutes(-5), now.AddDays(30)));
        var county = _pki.IssueDepartment("530102", name: "Wuhua District Civil Affairs Bureau");
        var registry = _kunming.Services.GetRequiredService<DepartmentRegistry>();
        Assert.Empty(registry.Register("530100", byRootCode, "Kunming Bureau of Statistics", out _));
        _kunming.Register(county);

        foreach (var certificate in new[] { byRoot.Certificate, county.Certificate })
        {
            using var client = _kunming.Client(certificate);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v1/identity")).StatusCode);
        }
    }

    [Fact]
    public async Task ValidNodeCertificateThatIsNotTheLinkedKey_WithOnBehalfOf_403NodeKeyNotPinned()
    {
        // The parent vouches for departments outside this node's jurisdiction (one of Qujing's, whose
        // exchange the province brings down), never for Kunming's own.
        var onBehalfOf = $"govshare:dept/530300/{TestPki.NewCreditCode()}";

        // The genuine province key is honoured …
        using (var genuine = _kunming.Client(_pki.NodeCertificate("530000")))
        {
            Assert.Equal(HttpStatusCode.OK, (await genuine.SendAsync(OnBehalfOf(onBehalfOf))).StatusCode);
        }

        // … another certificate from the right CA, naming the same node, is not.
        using var other = _pki.IssueAnotherNodeCertificate("530000", "node-530000-other");
        using var client = _kunming.Client(other);
        var problem = await ProblemAssert.IsProblemAsync(await client.SendAsync(OnBehalfOf(onBehalfOf)), HttpStatusCode.Forbidden, ProblemTypes.NodeKeyNotPinned);

        Assert.Contains(TrustMaterial.SpkiSha256(other), problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        AssertLogged("HopRefused", "is not the pinned");
    }

    [Fact]
    public async Task OperatorCertificate_OnExchangeListener_401WrongListener()
    {
        var person = _pki.IssueOperator("530100", "zhang.wei");

        using var client = _kunming.Client(person.Certificate);
        var problem = await ProblemAssert.IsProblemAsync(await client.GetAsync("v1/identity"), HttpStatusCode.Unauthorized, ProblemTypes.WrongListener);

        Assert.Contains("govshare:operator/530100/zhang.wei", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        AssertLogged("CertificateRefused", ProblemTypes.WrongListener);
    }

    [Fact]
    public async Task DepartmentCertificate_OnManagementListener_401WrongListener_AndNothingChanged()
    {
        var department = _pki.IssueDepartment("530100");
        _kunming.Register(department);

        using var client = ManagementClient(department.Certificate);
        var response = await client.PostAsJsonAsync("v1/operator/departments", new DepartmentRegistration("530100", TestPki.NewCreditCode(), "Registered by a department"));
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, ProblemTypes.WrongListener);

        Assert.Contains("not an operator", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Single(_kunming.Services.GetRequiredService<DepartmentRegistry>().All());
        AssertLogged("CertificateRefused", ProblemTypes.WrongListener);
    }

    [Fact]
    public async Task OperatorOfAnotherDivision_OnManagementListener_403AndNothingChanged()
    {
        var qujingOperator = _pki.IssueOperator("530300", "li.na");

        using var client = ManagementClient(qujingOperator.Certificate);
        var response = await client.PostAsJsonAsync("v1/operator/departments", new DepartmentRegistration("530100", TestPki.NewCreditCode(), "Registered from Qujing"));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        Assert.Empty(_kunming.Services.GetRequiredService<DepartmentRegistry>().All());
        AssertLogged("OperatorOfOtherDivisionRefused", "govshare:operator/530300/li.na");
    }

    [Fact]
    public async Task OperatorActions_RegisterLinkRekeyUnlinkRemove_EachAChangeLogRecordNamingTheOperator()
    {
        var person = _pki.IssueOperator("530100", "zhang.wei", "Zhang Wei");
        var operatorUri = "govshare:operator/530100/zhang.wei";
        var code = TestPki.NewCreditCode();
        var newKey = Convert.ToHexStringLower(SHA256.HashData("a re-keyed Wuhua node"u8));
        using var client = ManagementClient(person.Certificate);

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("v1/operator/departments", new DepartmentRegistration("530100", code, "Kunming Bureau of Statistics"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("v1/operator/links", new LinkRegistration("530102", LinkRole.Child, "https://127.0.0.1:2", _pki.NodeKey("530100")))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("v1/operator/links/530102/rekey", new LinkRekey(newKey))).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync("v1/operator/links/530102")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"v1/operator/departments/{code}")).StatusCode);

        var records = RegistryRecords();
        Assert.Equal(["registered", "linked", "rekeyed", "unlinked", "removed"], records.Select(r => r.Action));
        Assert.All(records, r => Assert.Equal(operatorUri, r.Record.Caller));
        // Self-contained: each record says enough to replay it (the entity after the change).
        var registered = records[0].Diff.GetProperty("department");
        Assert.Equal(("530100", code, "Kunming Bureau of Statistics"), (registered.GetProperty("divisionCode").GetString(), registered.GetProperty("creditCode").GetString(), registered.GetProperty("name").GetString()));
        var linked = records[1].Diff.GetProperty("link");
        Assert.Equal(("https://127.0.0.1:2", _pki.NodeKey("530100")), (linked.GetProperty("url").GetString(), linked.GetProperty("keySha256").GetString()));
        Assert.Equal((newKey, _pki.NodeKey("530100")), (records[2].Diff.GetProperty("link").GetProperty("keySha256").GetString(), records[2].Diff.GetProperty("previousKeySha256").GetString()));
        Assert.Equal(("link/530102", $"department/{code}"), (records[3].Record.Entity, records[4].Record.Entity));
        AssertLogged("OperatorAction", operatorUri);
    }

    [Fact]
    public async Task OperatorGrant_ItsChangeLogRecordNamesTheOperator()
    {
        var provider = _pki.IssueDepartment("530100", name: "Kunming Public Security Bureau");
        var user = _pki.IssueDepartment("530100", name: "Kunming Civil Affairs Bureau");
        _kunming.Register(provider);
        _kunming.Register(user);
        var entry = ExchangeFixture.Entry(ExchangeFixture.Conditional, provider, new ShareAttributes(ShareType.Conditional, Condition: "casework"));
        Assert.True(_kunming.Services.GetRequiredService<CatalogStore>().Create(entry, ExchangeFixture.Caller(provider)).Succeeded);
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        using var client = ManagementClient(_pki.IssueOperator("530100", "zhang.wei").Certificate);

        var created = await client.PostAsJsonAsync("v1/operator/grants", new
        {
            user = new { divisionCode = user.Division, creditCode = user.CreditCode },
            resourceCode = ExchangeFixture.Conditional,
            items = new object[] { new { item = "name" } },
            purpose = "social-assistance",
            validity = new { from = today, to = today.AddDays(10) },
            decision = "昆公复〔2026〕12号",
        });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var grant = Assert.Single(LogStore.ForDataFolder(_kunming.DataPath).ReadEntries(LogKind.Change).Select(e => e.Record).OfType<LogRecord>(), r => r.Kind == ExchangeKind.GrantChange);
        Assert.Equal("govshare:operator/530100/zhang.wei", grant.Caller);
    }

    [Fact]
    public async Task BootstrapToken_FromLoopback_ActsAsTheBootstrapOperator_AndIsLoggedAsSuch()
    {
        using var client = ManagementClient(null);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OperatorToken.ReadFrom(_kunming.DataPath));

        var response = await client.PostAsJsonAsync("v1/operator/departments", new DepartmentRegistration("530100", TestPki.NewCreditCode(), "Kunming Bureau of Statistics"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("govshare:operator/530100/bootstrap", Assert.Single(RegistryRecords()).Record.Caller);
        AssertLogged("OperatorBootstrapTokenUsed", "/v1/operator/departments");
    }

    [Fact]
    public async Task Link_WithoutKey_PinsTheKeyThePeerPresentsInItsHandshake_AndRefusesANodeThatIsNotTheOneNamed()
    {
        // A province node linking down to Kunming reads Kunming's key from Kunming's own TLS handshake.
        await using var province = await TestNode.StartAsync(_pki, "530000", s => s["Node:ManagementUrl"] = "https://127.0.0.1:0");
        using var provinceOperator = TestNode.ClientFor(_pki, province.ManagementAddress, _pki.IssueOperator("530000", "chen.jie").Certificate);

        var linked = await provinceOperator.PostAsJsonAsync("v1/operator/links", new LinkRegistration("530100", LinkRole.Child, _kunming.ExchangeAddress.ToString()));
        Assert.Equal(HttpStatusCode.OK, linked.StatusCode);
        Assert.Equal(_pki.NodeKey("530100"), (await linked.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("keySha256").GetString());

        // Kunming's address named as Qujing's: the handshake shows another node, and nothing is linked.
        var wrong = await provinceOperator.PostAsJsonAsync("v1/operator/links", new LinkRegistration("530300", LinkRole.Child, _kunming.ExchangeAddress.ToString()));
        var problem = await ProblemAssert.IsProblemAsync(wrong, HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Contains("it is node 530100, not 530300", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Null(province.Services.GetRequiredService<NodeLinkRegistry>().Find("530300"));
    }

    [Fact]
    public async Task CaWithoutItsDivision_NodeRefusesToStart_NamingTheSetting()
    {
        // A root made before CAs named their division (or by another tool): the node cannot know what it speaks for.
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var request = new CertificateRequest("CN=Legacy Root, O=GovShare, C=CN", key, HashAlgorithmName.SHA384);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var legacy = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var anchors = Path.Combine(_pki.Root, "legacy-anchors.pem");
        File.WriteAllText(anchors, File.ReadAllText(_pki.Folder.TrustAnchorsFile) + legacy.ExportCertificatePem() + "\n");

        var error = await Assert.ThrowsAsync<NodeConfigurationException>(() => TestNode.StartAsync(_pki, "530100", s => s["Node:TrustAnchors"] = anchors));

        Assert.Contains(error.Errors, e => e.StartsWith("Node:TrustAnchors:", StringComparison.Ordinal) && e.Contains("govshare:ca/<division>", StringComparison.Ordinal));
    }

    [Fact]
    public async Task NodeCertificateFromAPrefectureCa_NodeRefusesToStart_NamingTheSetting()
    {
        // What a node certificate made before this rule looks like: Kunming's node issued by Kunming's CA.
        var now = DateTimeOffset.UtcNow;
        var old = _pki.Folder.Issue("node-530100-by-prefecture", _pki.Folder.IssuerFor("530100"), LeafProfile.ForNode("530100", now.AddMinutes(-5), now.AddDays(30), ["localhost"], [IPAddress.Loopback]));

        var error = await Assert.ThrowsAsync<NodeConfigurationException>(() => TestNode.StartAsync(_pki, "530100", s =>
        {
            s["Node:Certificate"] = old.CertificatePath;
            s["Node:Key"] = old.KeyPath;
        }));

        Assert.Contains(error.Errors, e => e.StartsWith("Node:Certificate:", StringComparison.Ordinal) && e.Contains("may not issue node certificates", StringComparison.Ordinal));
    }

    private static HttpRequestMessage OnBehalfOf(string department)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "v1/identity");
        request.Headers.Add(GovShareHeaders.OnBehalfOf, department);
        return request;
    }

    private HttpClient ManagementClient(X509Certificate2? certificate) => TestNode.ClientFor(_pki, _kunming.ManagementAddress, certificate);

    private List<(LogRecord Record, string? Action, JsonElement Diff)> RegistryRecords() =>
        LogStore.ForDataFolder(_kunming.DataPath).ReadEntries(LogKind.Change).Select(e => e.Record).OfType<LogRecord>()
            // Operators' records only: the parent link this test's set-up makes through the registry directly is not one.
            .Where(r => r.Kind == ExchangeKind.RegistryChange && r.Caller.StartsWith("govshare:operator/", StringComparison.Ordinal))
            .Select(r => (r, r.Diff!.Value.GetProperty("action").GetString(), r.Diff!.Value))
            .ToList();

    private void AssertLogged(string eventName, string text) =>
        Assert.Contains(_kunming.Logs, l => l.Contains(eventName, StringComparison.Ordinal) && l.Contains(text, StringComparison.Ordinal));
}
