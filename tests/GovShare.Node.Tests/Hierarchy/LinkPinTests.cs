using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Authentication;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Hierarchy;
using GovShare.Node.Identity;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Hierarchy;

/// <summary>
/// The pinned key between linked nodes, tried as the holder of a replaced key would: a province
/// (530000) and Kunming (530100), real nodes on loopback with real TLS, linked both ways, each
/// pinning the other's key. When a pin changes (<c>node rekey</c>) or a link is removed, the old
/// key gets nothing more, neither on a new connection nor on one kept alive from before, in either
/// role: as the server a node connects to (its certificate pinned by the caller) and as the client
/// that calls (its certificate checked by the node it calls). Whether a request reached a node is
/// counted there (requests carrying <see cref="GovShareHeaders.OnBehalfOf"/>, i.e. forwarded
/// exchanges); which connections a node holds is read from the kernel's table (/proc/net/tcp).
/// </summary>
public sealed class LinkPinTests : IAsyncLifetime
{
    private readonly TestPki _pki = new();
    private readonly int _provincePort = Loopback.FreePort();
    private readonly ForwardedRequests _atProvince = new();
    private readonly ForwardedRequests _atKunming = new();
    private TestNode _province = null!;
    private TestNode _kunming = null!;
    private TestDepartment _provinceDepartment = null!;
    private TestDepartment _kunmingDepartment = null!;

    public async Task InitializeAsync()
    {
        static void Quiet(Dictionary<string, string?> s)
        {
            s["Node:ManagementUrl"] = "https://127.0.0.1:0";
            // No probe, publication, filing or escalation between the nodes on their own (each runs once at start,
            // before the link exists): every connection between them is one a test makes them open.
            s["Hierarchy:HealthInterval"] = "01:00:00";
            s["Hierarchy:PublishInterval"] = "01:00:00";
            s["Hierarchy:ConnectTimeout"] = "00:00:30";
        }

        // The province keeps its exchange port across a restart with a new key (Kunming's link names it).
        _province = await TestNode.StartAsync(_pki, "530000", s =>
        {
            Quiet(s);
            s["Node:ExchangeUrl"] = $"https://127.0.0.1:{_provincePort}";
        }, services => services.AddSingleton<IStartupFilter>(_atProvince));
        _kunming = await TestNode.StartAsync(_pki, "530100", Quiet, services => services.AddSingleton<IStartupFilter>(_atKunming));
        Assert.Empty(Links(_province).Link("530100", LinkRole.Child, _kunming.ExchangeAddress.ToString(), _pki.NodeKey("530100"), out _));
        Assert.Empty(Links(_kunming).Link("530000", LinkRole.Parent, _province.ExchangeAddress.ToString(), _pki.NodeKey("530000"), out _));

        // One resource at each node: the province's is pulled up through Kunming, Kunming's down through the province.
        _provinceDepartment = await OfferAsync(_province, "Yunnan Civil Affairs Department", ExchangeFixture.Unconditional);
        _kunmingDepartment = await OfferAsync(_kunming, "Kunming Public Security Bureau", ExchangeFixture.Conditional);
    }

    public async Task DisposeAsync()
    {
        await _kunming.DisposeAsync();
        await _province.DisposeAsync();
        _pki.Dispose();
    }

    [Fact]
    public async Task ProvinceReKeyedAtKunming_TheOldKeyStillAtTheOldAddress_IsRefusedAtOnce_ItsKeptAliveConnectionClosed_NothingReachesIt()
    {
        // The province's key is thought stolen: the province gets a new one, and Kunming's operator pins it. The old
        // key's holder still answers at the province's address (here: the province process itself, still on its old key).
        using var department = _kunming.Client(_kunmingDepartment.Certificate);
        await PullsAsync(department, ExchangeFixture.Unconditional, through: null);
        Assert.Equal(1, _atProvince.Count);
        Assert.True(ClientConnectionsTo(_provincePort) >= 1, "Kunming keeps its connection to the province alive after the forward");

        using var renewed = _pki.IssueAnotherNodeCertificate("530000", "node-530000-renewed");
        var newKey = TrustMaterial.SpkiSha256(renewed);
        using var kunmingOperator = Operator(_kunming, "li.na");
        Assert.Equal(HttpStatusCode.OK, (await kunmingOperator.PostAsJsonAsync("v1/operator/links/530000/rekey", new LinkRekey(newKey))).StatusCode);

        // Read as the re-key is answered (asserted last, so that on a node without the fix the pull shows what
        // the old connection would carry): the connection made under the old pin is closed at once, not after its idle timeout.
        var stillOpen = ClientConnectionsTo(_provincePort);
        using var refused = await department.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "social-assistance"));
        var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.BadGateway, ProblemTypes.UpstreamUnavailable);
        Assert.Contains("530000", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, _atProvince.Count); // the old key was sent nothing
        Assert.True(Health(_kunming).IsDown("530000", out _, out var reason));
        Assert.Contains($"is not the one the link pins (sha256:{newKey})", reason, StringComparison.Ordinal);
        Assert.Equal(0, stillOpen);
    }

    [Fact]
    public async Task ProvinceRestartsWithANewKey_KunmingStillPinningTheOld_RefusesIt_ThenNodeRekeyPinsTheNewAndForwardsAgain()
    {
        // What session 10 saw in one test process: after the province's restart with a new key, Kunming still
        // forwarded to it. The pin was never checked by the forwarder (its callback was never given the link).
        using var department = _kunming.Client(_kunmingDepartment.Certificate);
        await PullsAsync(department, ExchangeFixture.Unconditional, through: null);
        var oldKey = _pki.NodeKey("530000");
        using (_pki.IssueAnotherNodeCertificate("530000", "node-530000-renewed"))
        {
            foreach (var extension in new[] { ".crt", ".key" })
            {
                File.Copy(Path.Combine(_pki.Folder.IssuedFolder, "node-530000-renewed" + extension), Path.Combine(_pki.Folder.IssuedFolder, "node-530000" + extension), overwrite: true);
            }
        }

        var newKey = _pki.NodeKey("530000");
        await _province.RestartAsync();

        using (var refused = await department.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "social-assistance")))
        {
            await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.BadGateway, ProblemTypes.UpstreamUnavailable);
        }

        Assert.Equal(1, _atProvince.Count);
        Assert.True(Health(_kunming).IsDown("530000", out _, out var reason));
        Assert.Contains($"its key sha256:{newKey} is not the one the link pins (sha256:{oldKey})", reason, StringComparison.Ordinal);

        // node rekey without a key reads the one the province serves now, in a handshake of its own.
        using var kunmingOperator = Operator(_kunming, "li.na");
        Assert.Equal(HttpStatusCode.OK, (await kunmingOperator.PostAsJsonAsync("v1/operator/links/530000/rekey", new LinkRekey(null))).StatusCode);
        Assert.Equal(newKey, Links(_kunming).Parent()?.KeySha256);
        await PullsAsync(department, ExchangeFixture.Unconditional, through: null);
        Assert.Equal(2, _atProvince.Count);
    }

    [Fact]
    public async Task ParentUnlinkedAtKunming_ItsKeptAliveConnectionToTheProvinceIsClosedAtOnce_AndNothingMoreIsSent()
    {
        using var department = _kunming.Client(_kunmingDepartment.Certificate);
        await PullsAsync(department, ExchangeFixture.Unconditional, through: null);
        Assert.True(ClientConnectionsTo(_provincePort) >= 1, "Kunming keeps its connection to the province alive after the forward");

        using var kunmingOperator = Operator(_kunming, "li.na");
        Assert.Equal(HttpStatusCode.NoContent, (await kunmingOperator.DeleteAsync("v1/operator/links/530000")).StatusCode);

        Assert.Equal(0, ClientConnectionsTo(_provincePort));
        using var pull = await department.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "social-assistance"));
        Assert.NotEqual(HttpStatusCode.OK, pull.StatusCode);
        Assert.Equal(1, _atProvince.Count);
    }

    [Fact]
    public async Task KunmingReKeyedAtTheProvince_TheOldKeyGetsNothing_NeitherForwardedDownToIt_NorServedOnItsKeptAliveConnection_NorAfterUnlink()
    {
        // Down: a province department pulls Kunming's resource through the province, and the province keeps the connection.
        using var department = _province.Client(_provinceDepartment.Certificate);
        await PullsAsync(department, ExchangeFixture.Conditional, through: "530100");
        Assert.Equal(1, _atKunming.Count);
        var kunmingPort = _kunming.ExchangeAddress.Port;
        Assert.True(ClientConnectionsTo(kunmingPort) >= 1, "the province keeps its connection to Kunming alive after the forward");

        // Up, as the old key's holder would: Kunming's old certificate on one kept-alive connection to the province.
        var connections = 0;
        using var oldKey = _pki.NodeCertificate("530100");
        using var holder = TestNode.ClientFor(_pki, _province.ExchangeAddress, oldKey, handler => handler.ConnectCallback = async (context, cancellation) =>
        {
            Interlocked.Increment(ref connections);
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(context.DnsEndPoint, cancellation);
            return new NetworkStream(socket, ownsSocket: true);
        });
        Assert.Equal(HttpStatusCode.OK, (await holder.GetAsync("v1/identity")).StatusCode);

        // Kunming's key is thought stolen: Kunming gets a new one and the province's operator pins it.
        using var renewed = _pki.IssueAnotherNodeCertificate("530100", "node-530100-renewed");
        using var provinceOperator = Operator(_province, "chen.jie");
        Assert.Equal(HttpStatusCode.OK, (await provinceOperator.PostAsJsonAsync("v1/operator/links/530100/rekey", new LinkRekey(TrustMaterial.SpkiSha256(renewed)))).StatusCode);

        // The province's connection made under the old pin is closed (read now, asserted after the pull); the old key
        // (Kunming is still on it) is sent nothing.
        var stillOpen = ClientConnectionsTo(kunmingPort);
        using (var refused = await department.SendAsync(PullAt(ExchangeFixture.Conditional, "530100")))
        {
            await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.BadGateway, ProblemTypes.UpstreamUnavailable);
        }

        Assert.Equal(1, _atKunming.Count);
        Assert.Equal(0, stillOpen);

        // The old key's kept-alive connection: each request is judged against the pin as it is now.
        await ProblemAssert.IsProblemAsync(await holder.GetAsync("v1/identity"), HttpStatusCode.Forbidden, ProblemTypes.NodeKeyNotPinned);
        using (var vouching = PullAt(ExchangeFixture.Unconditional, null))
        {
            vouching.Headers.Add(GovShareHeaders.OnBehalfOf, $"govshare:dept/530100/{_kunmingDepartment.CreditCode}");
            await ProblemAssert.IsProblemAsync(await holder.SendAsync(vouching), HttpStatusCode.Forbidden, ProblemTypes.NodeKeyNotPinned);
        }

        // Unlinked: the same connection is refused as an unlinked node's.
        Assert.Equal(HttpStatusCode.NoContent, (await provinceOperator.DeleteAsync("v1/operator/links/530100")).StatusCode);
        await ProblemAssert.IsProblemAsync(await holder.GetAsync("v1/identity"), HttpStatusCode.Forbidden, ProblemTypes.NodeNotLinked);
        Assert.Equal(1, connections); // all of it on the one connection kept alive from before the re-key
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task KunmingReKeyedAtTheProvince_TheOldKeyResumingItsTlsSession_IsRefusedOnEveryRequest_AsAfterUnlink(SslProtocols protocol)
    {
        // The holder of Kunming's old key resumes the TLS session it made while that key was pinned: a resumed
        // handshake sends no certificate, the server takes the one of the session's first handshake. Only the
        // province's check of the pin at each request (not at the handshake) stands between that session and service.
        using var oldKey = _pki.NodeCertificate("530100");
        var tls = TestNode.ClientTls(_pki, oldKey);
        tls.TargetHost = "localhost";
        tls.EnabledSslProtocols = protocol;
        var port = _province.ExchangeAddress.Port;
        var first = await ResumingTlsClient.GetAsync(port, tls, "/v1/identity");
        Assert.Equal(200, first.Status);
        Assert.False(first.Resumed, "the first handshake is a full one");
        var resumedBefore = await ResumingTlsClient.GetAsync(port, tls, "/v1/identity");
        Assert.Equal(200, resumedBefore.Status);
        Assert.True(resumedBefore.Resumed, $"the province resumes a {protocol} session with a node's client certificate (else this test shows nothing)");

        using var renewed = _pki.IssueAnotherNodeCertificate("530100", "node-530100-renewed");
        using var provinceOperator = Operator(_province, "chen.jie");
        Assert.Equal(HttpStatusCode.OK, (await provinceOperator.PostAsJsonAsync("v1/operator/links/530100/rekey", new LinkRekey(TrustMaterial.SpkiSha256(renewed)))).StatusCode);

        var afterRekey = await ResumingTlsClient.GetAsync(port, tls, "/v1/identity");
        Assert.True(afterRekey.Resumed, "the old key's session is resumed after the re-key too");
        Assert.Equal(403, afterRekey.Status);
        Assert.Contains(ProblemTypes.NodeKeyNotPinned, afterRekey.Body, StringComparison.Ordinal);
        Assert.Contains($"sha256:{TrustMaterial.SpkiSha256(oldKey)}", afterRekey.Body, StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.NoContent, (await provinceOperator.DeleteAsync("v1/operator/links/530100")).StatusCode);
        var afterUnlink = await ResumingTlsClient.GetAsync(port, tls, "/v1/identity");
        Assert.True(afterUnlink.Resumed, "the old key's session is resumed after the unlink too");
        Assert.Equal(403, afterUnlink.Status);
        Assert.Contains(ProblemTypes.NodeNotLinked, afterUnlink.Body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("530100")] // Kunming's operator re-keys the province: Kunming, the caller, cuts its connections made under the old pin.
    [InlineData("530000")] // The province's operator re-keys Kunming: the province, the server, aborts the request it admitted under the old pin.
    public async Task APullStreamingUpThroughKunming_EndsBrokenAtOnce_WhenEitherNodeReKeysTheOther_AndTheCutIsLogged(string rekeyingNode)
    {
        // A resource larger than every buffer between the province and the department (sockets, pipes, YARP's copy):
        // when the re-key is answered, most of it has not left the province yet.
        const int Rows = 1_000_000;
        using (var provider = _province.Client(_provinceDepartment.Certificate))
        using (var push = await provider.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional), ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync(ExchangeFixture.People(Rows)))))
        {
            Assert.Equal(HttpStatusCode.OK, push.StatusCode);
        }

        using var department = _kunming.Client(_kunmingDepartment.Certificate);
        using var pull = await department.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "social-assistance"), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        await using var body = await pull.Content.ReadAsStreamAsync();
        var buffer = new byte[64 * 1024];
        long read = await body.ReadAtLeastAsync(buffer, buffer.Length);
        Assert.Equal(1, _atProvince.Count);

        var (rekeying, other, logs, cut) = rekeyingNode == "530100"
            ? (_kunming, "530000", _kunming.Logs, "LinkConnectionsCut")
            : (_province, "530100", _province.Logs, "LinkedNodeRequestAborted");
        using var renewed = _pki.IssueAnotherNodeCertificate(other, $"node-{other}-renewed");
        using var @operator = Operator(rekeying, rekeyingNode == "530100" ? "li.na" : "chen.jie");
        Assert.Equal(HttpStatusCode.OK, (await @operator.PostAsJsonAsync($"v1/operator/links/{other}/rekey", new LinkRekey(TrustMaterial.SpkiSha256(renewed)))).StatusCode);

        // Without the cut the department would read all of it: the stream was admitted under the old pin.
        var broken = await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            int n;
            while ((n = await body.ReadAsync(buffer)) > 0)
            {
                read += n;
            }
        });
        Assert.True(read < Rows * 20L, $"the stream broke off after {read} bytes, before the end ({broken.Message})");
        var line = Assert.Single(logs, l => l.Contains($":{cut}]", StringComparison.Ordinal));
        Assert.Contains($"sha256:{TrustMaterial.SpkiSha256(renewed)}", line, StringComparison.Ordinal);

        // Kunming, which forwarded it, logs the exchange as cut with what the department got, not as the 200 it began with.
        var exchangeId = pull.Headers.GetValues(GovShareHeaders.ExchangeId).Distinct().Single();
        LogRecord? record = null;
        await ForwardMetricsTests.EventuallyAsync(() => Task.FromResult((record = ForwardMetricsTests.ForwardRecord(_kunming.DataPath, exchangeId)) is not null), "Kunming never logged the forward");
        Assert.Equal(StatusCodes.Status502BadGateway, record!.Status);
        Assert.Equal(ProblemTypes.UpstreamUnavailable, record.ProblemType);
        Assert.InRange(record.Bytes, read, Rows * 20L);
    }

    private static NodeLinkRegistry Links(TestNode node) => node.Services.GetRequiredService<NodeLinkRegistry>();

    private static LinkHealth Health(TestNode node) => node.Services.GetRequiredService<LinkHealth>();

    private HttpClient Operator(TestNode node, string id) =>
        TestNode.ClientFor(_pki, node.ManagementAddress, _pki.IssueOperator(node.Division, id).Certificate);

    private async Task<TestDepartment> OfferAsync(TestNode node, string name, string code)
    {
        var provider = _pki.IssueDepartment(node.Division, name: name);
        node.Register(provider);
        Assert.True(node.Services.GetRequiredService<CatalogStore>().Create(
            ExchangeFixture.Entry(code, provider, new ShareAttributes(ShareType.Unconditional)), ExchangeFixture.Caller(provider)).Succeeded);
        using var client = node.Client(provider.Certificate);
        using var push = await client.PostAsync(ExchangeFixture.DataPath(code), ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync(ExchangeFixture.People(20))));
        Assert.Equal(HttpStatusCode.OK, push.StatusCode);
        return provider;
    }

    /// <summary>A pull of <paramref name="code"/>, sent on to node <paramref name="node"/> when given (<c>?node=</c>).</summary>
    private static HttpRequestMessage PullAt(string code, string? node)
    {
        var pull = ExchangeFixture.Pull(code, "social-assistance");
        if (node is not null)
        {
            pull.RequestUri = new Uri(pull.RequestUri!.OriginalString + "?node=" + node, UriKind.Relative);
        }

        return pull;
    }

    private static async Task PullsAsync(HttpClient department, string code, string? through)
    {
        using var pull = await department.SendAsync(PullAt(code, through));
        Assert.True(pull.StatusCode == HttpStatusCode.OK, await pull.Content.ReadAsStringAsync());
        var (_, batches) = await ExchangeFixture.ReadAsync(pull);
        Assert.Equal(20, batches.Sum(b => b.Length));
    }

    /// <summary>
    /// Open TCP connections to loopback <paramref name="port"/> as the kernel lists them, counted at their client
    /// end (remote port <paramref name="port"/>, ESTABLISHED): a connection this process closed is no longer one.
    /// </summary>
    private static int ClientConnectionsTo(int port)
    {
        var count = 0;
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                // "sl local_address rem_address st …", addresses as HEXADDR:HEXPORT, st 01 = ESTABLISHED.
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var remote = fields[2];
                if (fields[3] == "01" && int.Parse(remote[(remote.LastIndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture) == port)
                {
                    count++;
                }
            }
        }

        return count;
    }

    /// <summary>Counts the forwarded exchanges (requests carrying a department on whose behalf a node acts) that reach a node, before anything else sees them.</summary>
    private sealed class ForwardedRequests : IStartupFilter
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, then) =>
            {
                if (context.Request.Headers.ContainsKey(GovShareHeaders.OnBehalfOf))
                {
                    Interlocked.Increment(ref _count);
                }

                return then(context);
            });
            next(app);
        };
    }
}
