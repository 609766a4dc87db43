using GovShare.Node.Hosting;
using GovShare.Node.Kernel;
using GovShare.Node.Tests.Functional;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Tests.Hosting;

/// <summary>A node with a missing or invalid setting must not start, and must say which setting.</summary>
public sealed class NodeStartupTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Theory]
    [InlineData("Node:TrustAnchors", null, "Node:TrustAnchors: missing")]
    [InlineData("Node:TrustAnchors", "/nonexistent/anchors.pem", "Node:TrustAnchors: cannot read")]
    [InlineData("Node:Certificate", null, "Node:Certificate: missing")]
    [InlineData("Node:Key", "/nonexistent/node.key", "Node:Key: cannot read the private key")]
    [InlineData("Node:DivisionCode", "53010", "Node:DivisionCode: '53010' is not a six-digit")]
    [InlineData("Node:DivisionCode", "530300", "is for node 530100, but Node:DivisionCode is 530300")]
    [InlineData("Node:ExchangeUrl", "http://127.0.0.1:0", "Node:ExchangeUrl")]
    [InlineData("Node:ManagementUrl", "not a url", "Node:ManagementUrl")]
    [InlineData("Node:CrlPath", "/nonexistent/crl", "Node:CrlPath: the folder '/nonexistent/crl' does not exist")]
    [InlineData("Node:CrlGrace", "30.00:00:00", "Node:CrlGrace")]
    [InlineData("Telemetry:OtlpEndpoint", "collector:4317", "Telemetry:OtlpEndpoint: 'collector:4317' is not an http(s) URL")]
    [InlineData("Telemetry:OtlpProtocol", "udp", "Telemetry:OtlpProtocol: 'udp' is neither 'grpc' nor 'http'")]
    public void Build_BadSetting_FailsNamingTheSetting(string setting, string? value, string expected)
    {
        var settings = TestNode.DefaultSettings(_pki, "530100");
        settings[setting] = value;

        var error = Assert.Throws<NodeConfigurationException>(() => GovShareNode.Build([], settings));

        Assert.Contains(error.Errors, e => e.Contains(expected, StringComparison.Ordinal));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_CountyDivision_RefusedNamingArt21AndThePrefecture()
    {
        var settings = TestNode.DefaultSettings(_pki, "530100");
        settings["Node:DivisionCode"] = "530102";

        var error = Assert.Throws<NodeConfigurationException>(() => GovShareNode.Build([], settings));

        Assert.Contains(error.Errors, e => e.StartsWith("Node:DivisionCode: 530102 is a county-level division", StringComparison.Ordinal) && e.Contains("(Art. 21)", StringComparison.Ordinal) && e.Contains("node 530100", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_NationalCaAmongAProvincesTrustAnchors_Refused_ItBelongsInUpstreamParentTrustAnchor()
    {
        using var nation = TestPki.National();
        var anchors = Path.Combine(_pki.Root, "with-national.pem");
        File.WriteAllText(anchors, File.ReadAllText(_pki.RootCertificateFile) + File.ReadAllText(nation.RootCertificateFile));
        var settings = TestNode.DefaultSettings(_pki, "530000");
        settings["Node:TrustAnchors"] = anchors;

        var error = Assert.Throws<NodeConfigurationException>(() => GovShareNode.Build([], settings));

        Assert.Contains(error.Errors, e => e.StartsWith("Node:TrustAnchors:", StringComparison.Ordinal) && e.Contains("Upstream:ParentTrustAnchor", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(null, "needs Upstream:ParentDivisionCode")] // the one node it may vouch for is not named
    [InlineData("530000", "needs Upstream:ParentDivisionCode")] // the node itself
    public void Build_ParentTrustAnchorWithoutTheParentAbove_Refused(string? parentDivision, string expected)
    {
        using var nation = TestPki.National();
        var settings = TestNode.DefaultSettings(_pki, "530000");
        settings["Upstream:ParentTrustAnchor"] = nation.RootCertificateFile;
        settings["Upstream:ParentDivisionCode"] = parentDivision;

        var error = Assert.Throws<NodeConfigurationException>(() => GovShareNode.Build([], settings));

        Assert.Contains(error.Errors, e => e.StartsWith("Upstream:ParentTrustAnchor:", StringComparison.Ordinal) && e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Build_ParentTrustAnchorThatIsTheProvincesOwnRoot_Refused()
    {
        var settings = TestNode.DefaultSettings(_pki, "530100");
        settings["Upstream:ParentTrustAnchor"] = _pki.RootCertificateFile;
        settings["Upstream:ParentDivisionCode"] = "530000";

        var error = Assert.Throws<NodeConfigurationException>(() => GovShareNode.Build([], settings));

        Assert.Contains(error.Errors, e => e.StartsWith("Upstream:ParentTrustAnchor:", StringComparison.Ordinal) && e.Contains("also in Node:TrustAnchors", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_KeyOfAnotherCertificate_FailsNamingTheKey()
    {
        var settings = TestNode.DefaultSettings(_pki, "530100");
        settings["Node:Key"] = Path.Combine(_pki.Folder.IssuedFolder, "node-530300.key");

        var error = Assert.Throws<NodeConfigurationException>(() => GovShareNode.Build([], settings));

        Assert.Contains(error.Errors, e => e.StartsWith("Node:Key:", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_SeveralBadSettings_ListsEveryOne()
    {
        var settings = TestNode.DefaultSettings(_pki, "530100");
        settings["Node:TrustAnchors"] = null;
        settings["Node:CrlPath"] = "/nonexistent/crl";
        settings["Node:DivisionCode"] = "x";

        var error = Assert.Throws<NodeConfigurationException>(() => GovShareNode.Build([], settings));

        Assert.Contains(error.Errors, e => e.StartsWith("Node:TrustAnchors:", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("Node:CrlPath:", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("Node:DivisionCode:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Build_SecondNodeOnSameDataFolder_Refused()
    {
        await using var first = await TestNode.StartAsync(_pki);
        var settings = TestNode.DefaultSettings(_pki, "530100", first.DataPath);

        var error = Assert.Throws<NodeConfigurationException>(() => GovShareNode.Build([], settings));

        Assert.Contains(error.Errors, e => e.StartsWith("Node:DataPath:", StringComparison.Ordinal) && e.Contains("in use", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("false", false)]
    [InlineData("true", true)]
    public async Task InlineScheduling_ReachesKestrelsSocketTransport_AndTheNodeAnswersOnIt(string? setting, bool inline)
    {
        await using var node = await TestNode.StartAsync(_pki, configure: settings =>
        {
            if (setting is not null)
            {
                settings["Node:InlineScheduling"] = setting;
            }
        });

        // The options Kestrel's socket transport is made from (SocketTransportFactory reads them once, at start).
        Assert.Equal(inline, node.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value.UnsafePreferInlineScheduling);
        var department = _pki.IssueDepartment();
        node.Register(department);
        using var client = node.Client(department.Certificate);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync("v1/identity")).StatusCode);
    }

    [Fact]
    public async Task Restart_RegisteredDepartments_Survive()
    {
        await using var node = await TestNode.StartAsync(_pki);
        var department = _pki.IssueDepartment();
        node.Register(department);

        await node.RestartAsync();

        using var client = node.Client(department.Certificate);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync("v1/identity")).StatusCode);
    }
}
