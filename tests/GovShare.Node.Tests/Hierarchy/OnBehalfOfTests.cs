using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Hierarchy;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Hierarchy;

/// <summary>
/// Identity across hops, on a real province node (530000) with a linked child (530100):
/// only a linked node may speak for a department, and only for one of its own subtree.
/// </summary>
public sealed class OnBehalfOfTests : IAsyncLifetime
{
    private readonly TestPki _pki = new();
    private TestNode _province = null!;

    public async Task InitializeAsync()
    {
        _province = await TestNode.StartAsync(_pki, "530000");
        Assert.Empty(Links.Link("530100", LinkRole.Child, "https://127.0.0.1:1", _pki.NodeKey("530100"), out _));
    }

    public async Task DisposeAsync()
    {
        await _province.DisposeAsync();
        _pki.Dispose();
    }

    private NodeLinkRegistry Links => _province.Services.GetRequiredService<NodeLinkRegistry>();

    [Fact]
    public async Task LinkedChild_VouchingForItsOwnDepartment_ActsAsThatDepartment()
    {
        var department = $"govshare:dept/530102/{TestPki.NewCreditCode()}";
        using var child = _province.Client(_pki.NodeCertificate("530100"));
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/identity");
        request.Headers.Add(GovShareHeaders.OnBehalfOf, department);

        var response = await child.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var identity = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(department, identity.GetProperty("uri").GetString());
    }

    [Fact]
    public async Task LinkedChild_VouchingOutsideItsSubtree_403()
    {
        using var child = _province.Client(_pki.NodeCertificate("530100"));
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/identity");
        request.Headers.Add(GovShareHeaders.OnBehalfOf, $"govshare:dept/530302/{TestPki.NewCreditCode()}");

        var problem = await ProblemAssert.IsProblemAsync(await child.SendAsync(request), HttpStatusCode.Forbidden, ProblemTypes.VouchRefused);

        Assert.Contains("530302", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains(_province.Logs, l => l.Contains("HopRefused", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(GovShareHeaders.OnBehalfOf)]
    [InlineData(GovShareHeaders.ExchangeId)]
    [InlineData(GovShareHeaders.Hop)]
    public async Task Department_SendingAHopHeader_403(string header)
    {
        var department = _pki.IssueDepartment("530000");
        _province.Register(department);
        using var client = _province.Client(department.Certificate);
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/identity");
        request.Headers.Add(header, $"govshare:dept/530000/{TestPki.NewCreditCode()}");

        await ProblemAssert.IsProblemAsync(await client.SendAsync(request), HttpStatusCode.Forbidden, ProblemTypes.HopHeaderRefused);
    }

    [Fact]
    public async Task UnlinkedNode_403NotLinked()
    {
        using var stranger = _province.Client(_pki.NodeCertificate("530300"));

        await ProblemAssert.IsProblemAsync(await stranger.GetAsync("v1/identity"), HttpStatusCode.Forbidden, ProblemTypes.NodeNotLinked);
    }

    [Fact]
    public async Task LinkedChild_MalformedOnBehalfOf_400()
    {
        using var child = _province.Client(_pki.NodeCertificate("530100"));
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/identity");
        request.Headers.Add(GovShareHeaders.OnBehalfOf, "govshare:node/530100");

        await ProblemAssert.IsProblemAsync(await child.SendAsync(request), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
    }

    [Theory]
    [InlineData("530300", LinkRole.Parent, "https://127.0.0.1:1")] // a province has no prefecture for parent
    [InlineData("520100", LinkRole.Child, "https://127.0.0.1:1")] // Guiyang is not in Yunnan
    [InlineData("530000", LinkRole.Child, "https://127.0.0.1:1")] // itself
    [InlineData("530300", LinkRole.Child, "http://127.0.0.1:1")] // not https
    public void Link_Impossible_RefusedWithReason(string division, LinkRole role, string url)
    {
        Assert.NotEmpty(Links.Link(division, role, url, _pki.NodeKey("530300"), out var link));
        Assert.Null(link);
        Assert.Null(Links.Find(division));
    }
}
