using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Hierarchy;
using GovShare.Node.Logs;
using GovShare.Node.Management;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.AspNetCore.Http;
using static GovShare.Node.Tests.Hosting.MetricsTests;

namespace GovShare.Node.Tests.Hierarchy;

/// <summary>
/// A province and Kunming, each a real <c>govshare node run</c> process on loopback (so the
/// process-wide meters count one node each): a Kunming department's pull of a province resource
/// is forwarded by Kunming, and Kunming's <c>/metrics</c> counts that forward — status and the
/// bytes it relayed — as its exchange log records it; both sides show their link up, and Kunming
/// shows it down once the province stops. A forwarded answer passes through Kunming byte for byte with Kestrel's
/// inline scheduling on or off (it goes through a bounded pipe of its own then: ForwardedResponseBody), and a forward
/// cut by either side is recorded as that side's doing.
/// </summary>
public sealed class ForwardMetricsTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task KunmingForwardsAPullToTheProvince_ItsScrapeCountsTheForwardAndBothLinksUp_ThenDownWhenTheProvinceStops()
    {
        await using var tree = await Tree.StartAsync(_pki, rows: 250);
        var (province, kunming, userClient) = (tree.Province, tree.Kunming, tree.UserClient);
        using var kunmingScraper = Scraper(kunming);
        using var provinceScraper = Scraper(province);
        // Each side's probe finds the other answering as itself.
        await EventuallyAsync(async () => (await ScrapeAsync(kunmingScraper)).Sum("govshare_link_up", ("govshare_link_division", "530000"), ("govshare_link_direction", "parent")) == 1, "Kunming never saw its parent link up");
        await EventuallyAsync(async () => (await ScrapeAsync(provinceScraper)).Sum("govshare_link_up", ("govshare_link_division", "530100"), ("govshare_link_direction", "child")) == 1, "the province never saw its child link up");
        var before = await ScrapeAsync(kunmingScraper);

        string exchangeId;
        byte[] received;
        using (var pull = await userClient.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "forward-metrics")))
        {
            Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
            // Kunming's header and the province's, relayed: one exchange id at every hop.
            exchangeId = pull.Headers.GetValues(GovShareHeaders.ExchangeId).Distinct().Single();
            received = await pull.Content.ReadAsByteArrayAsync();
            using var reader = new Apache.Arrow.Ipc.ArrowStreamReader(new MemoryStream(received));
            var rows = 0;
            while (await reader.ReadNextRecordBatchAsync() is { } batch)
            {
                using (batch)
                {
                    rows += batch.Length;
                }
            }

            Assert.Equal(250, rows);
        }

        // A pull the province refuses (no purpose) is forwarded too, and counted with the status it came back with.
        using (var refused = await userClient.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, purpose: null)))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }

        var after = await ScrapeAsync(kunmingScraper);
        double Delta(string name, params (string Label, string Value)[] labels) => after.Sum(name, labels) - before.Sum(name, labels);
        Assert.Equal(1, Delta("govshare_exchanges_total", ("govshare_exchange_kind", "forward"), ("http_response_status_code", "200")));
        Assert.Equal(1, Delta("govshare_exchanges_total", ("govshare_exchange_kind", "forward"), ("http_response_status_code", "400")));
        // Kunming only forwarded: nothing was pulled from it.
        Assert.Equal(2, Delta("govshare_exchanges_total"));
        Assert.Equal(2, Delta("govshare_exchange_duration_seconds_count", ("govshare_exchange_kind", "forward")));

        // Kunming's log has the hop under the one exchange id; the bytes it relayed are the Arrow stream the department received.
        var forwarded = LogStore.ForDataFolder(kunming["Node:DataPath"]!).ReadEntries(LogKind.Exchange).Select(e => e.Record).OfType<LogRecord>().Where(r => r.Kind == ExchangeKind.Forward).ToList();
        Assert.Equal(2, forwarded.Count);
        Assert.Equal(200, forwarded.Single(r => r.ExchangeId == exchangeId).Status);
        var served = LogStore.ForDataFolder(province["Node:DataPath"]!).ReadEntries(LogKind.Exchange).Select(e => e.Record).OfType<LogRecord>().Single(r => r.ExchangeId == exchangeId && r.Kind == ExchangeKind.Pull);
        Assert.Equal(received.Length, Delta("govshare_exchange_bytes_total", ("govshare_exchange_kind", "forward")));
        // The owner logs the Arrow bytes it delivered before the stream's end-of-stream marker (8 bytes).
        Assert.Equal(received.Length - 8, served.Bytes);

        // The province stops: Kunming's next probe finds its parent gone.
        await tree.StopProvinceAsync();
        await EventuallyAsync(async () => (await ScrapeAsync(kunmingScraper)).Sum("govshare_link_up", ("govshare_link_division", "530000"), ("govshare_link_direction", "parent")) == 0
            && (await ScrapeAsync(kunmingScraper)).Samples.Any(s => s.Name == "govshare_link_up"), "Kunming never saw its parent link down");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ALargePullForwardedByKunming_ArrivesByteForByteAsTheProvinceServesIt_WithOrWithoutInlineScheduling(bool inlineScheduling)
    {
        // ~7 MB of Arrow: many times the forward's pipe (ForwardedResponseBody.PauseBytes), so YARP's copy waits on
        // its drain again and again.
        const int Rows = 300_000;
        await using var tree = await Tree.StartAsync(_pki, Rows, inlineScheduling);

        // The items neither masked nor withheld: the province serves the same bytes to its provider as to Kunming's department.
        const string Items = "name,birth_date,income";
        using var forwarded = await tree.UserClient.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "forward-bytes", Items));
        Assert.Equal(HttpStatusCode.OK, forwarded.StatusCode);
        var exchangeId = forwarded.Headers.GetValues(GovShareHeaders.ExchangeId).Distinct().Single();
        var throughKunming = await forwarded.Content.ReadAsByteArrayAsync();
        // What the province itself serves for the same pull, asked directly by its provider.
        using var direct = await tree.ProviderClient.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "forward-bytes", Items));
        Assert.Equal(HttpStatusCode.OK, direct.StatusCode);
        var atProvince = await direct.Content.ReadAsByteArrayAsync();

        Assert.True(throughKunming.Length > 8 * ForwardedResponseBody.PauseBytes, $"only {throughKunming.Length} bytes");
        Assert.Equal(atProvince.Length, throughKunming.Length);
        Assert.True(atProvince.AsSpan().SequenceEqual(throughKunming), "the forwarded bytes differ from the province's");
        using var copy = new HttpResponseMessage { Content = new ByteArrayContent(throughKunming) };
        var (_, batches) = await ExchangeFixture.ReadAsync(copy);
        Assert.Equal(Rows, batches.Sum(b => b.Length));
        LogRecord? record = null;
        await EventuallyAsync(() => Task.FromResult((record = ForwardRecord(tree.Kunming["Node:DataPath"]!, exchangeId)) is not null), "Kunming never logged the forward");
        Assert.Equal(StatusCodes.Status200OK, record!.Status);
    }

    [Fact]
    public async Task APullForwardedByKunming_TheDepartmentLeavingMidStream_IsLogged499WithTheBytesHandedOn_AndKunmingForwardsTheNextWhole()
    {
        // More than every buffer between the province and the department holds: the department leaves long before the end.
        const int Rows = 1_000_000;
        await using var tree = await Tree.StartAsync(_pki, Rows, inlineScheduling: true);

        var pull = await tree.UserClient.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "forward-left"), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        var exchangeId = pull.Headers.GetValues(GovShareHeaders.ExchangeId).Distinct().Single();
        var buffer = new byte[64 * 1024];
        long read;
        await using (var body = await pull.Content.ReadAsStreamAsync())
        {
            read = await body.ReadAtLeastAsync(buffer, buffer.Length);
        }

        // Disposed unread, the answer's connection is closed: the department has gone.
        pull.Dispose();

        LogRecord? record = null;
        await EventuallyAsync(() => Task.FromResult((record = ForwardRecord(tree.Kunming["Node:DataPath"]!, exchangeId)) is not null), "Kunming never logged the forward");
        Assert.Equal(499, record!.Status);
        Assert.Null(record.ProblemType);
        Assert.InRange(record.Bytes, read, Rows * 20L);

        // Kunming is none the worse: the same pull, read to its end, is whole.
        using var again = await tree.UserClient.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "forward-left"));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var (_, batches) = await ExchangeFixture.ReadAsync(again);
        Assert.Equal(Rows, batches.Sum(b => b.Length));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task APullForwardedByKunming_CutWhenTheProvinceDiesMidStream_IsLoggedAndCountedAt502WithTheBytesTheDepartmentGot_NotAs200(bool inlineScheduling)
    {
        // More than every buffer between the province and the department holds: most of it has not left the
        // province when it dies.
        const int Rows = 1_000_000;
        await using var tree = await Tree.StartAsync(_pki, Rows, inlineScheduling);
        using var kunmingScraper = Scraper(tree.Kunming);
        var before = await ScrapeAsync(kunmingScraper);

        using var pull = await tree.UserClient.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "forward-cut"), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        var exchangeId = pull.Headers.GetValues(GovShareHeaders.ExchangeId).Distinct().Single();
        await using var body = await pull.Content.ReadAsStreamAsync();
        var buffer = new byte[64 * 1024];
        long read = await body.ReadAtLeastAsync(buffer, buffer.Length);

        // The province's process is killed (no stop, no drain): Kunming's copy of its answer breaks off.
        await tree.KillProvinceAsync();
        await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            int n;
            while ((n = await body.ReadAsync(buffer)) > 0)
            {
                read += n;
            }
        });

        // Kunming's record is written once the forward has ended, which the department may see first.
        LogRecord? record = null;
        await EventuallyAsync(() => Task.FromResult((record = ForwardRecord(tree.Kunming["Node:DataPath"]!, exchangeId)) is not null), "Kunming never logged the forward");
        Assert.Equal(StatusCodes.Status502BadGateway, record!.Status);
        Assert.Equal(ProblemTypes.UpstreamUnavailable, record.ProblemType);
        // What the department got before the cut: at least what it read, far less than the whole.
        Assert.InRange(record.Bytes, read, Rows * 20L);
        var after = await ScrapeAsync(kunmingScraper);
        Assert.Equal(1, after.Sum("govshare_exchanges_total", ("govshare_exchange_kind", "forward"), ("http_response_status_code", "502"))
            - before.Sum("govshare_exchanges_total", ("govshare_exchange_kind", "forward"), ("http_response_status_code", "502")));
        Assert.Equal(0, after.Sum("govshare_exchanges_total", ("govshare_exchange_kind", "forward"), ("http_response_status_code", "200"))
            - before.Sum("govshare_exchanges_total", ("govshare_exchange_kind", "forward"), ("http_response_status_code", "200")));
    }

    /// <summary>The forward record of exchange <paramref name="exchangeId"/> in the exchange log of the node at <paramref name="dataPath"/>, once written.</summary>
    internal static LogRecord? ForwardRecord(string dataPath, string exchangeId) =>
        LogStore.ForDataFolder(dataPath).ReadEntries(LogKind.Exchange).Select(e => e.Record).OfType<LogRecord>()
            .SingleOrDefault(r => r.Kind == ExchangeKind.Forward && r.ExchangeId == exchangeId);

    private static Dictionary<string, string?> Settings(TestPki pki, string division, int exchangePort, bool inlineScheduling)
    {
        var settings = TestNode.DefaultSettings(pki, division);
        settings["Node:InlineScheduling"] = inlineScheduling ? "true" : "false";
        settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{exchangePort}";
        settings["Node:ManagementUrl"] = $"http://127.0.0.1:{Loopback.FreePort()}";
        settings["Hierarchy:HealthInterval"] = "00:00:01";
        settings["Hierarchy:ConnectTimeout"] = "00:00:05";
        return settings;
    }

    private static int Port(Dictionary<string, string?> settings, string key) => new Uri(settings[key]!).Port;

    private static HttpClient Scraper(Dictionary<string, string?> settings) =>
        new() { BaseAddress = new Uri(settings["Node:ManagementUrl"]! + "/"), Timeout = TimeSpan.FromSeconds(60) };

    private static HttpClient Management(NodeProcess node, Dictionary<string, string?> settings)
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{node.ManagementPort}/"), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OperatorToken.ReadFrom(settings["Node:DataPath"]!));
        return client;
    }

    internal static async Task EventuallyAsync(Func<Task<bool>> condition, string failure)
    {
        var until = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < until, failure);
            await Task.Delay(250);
        }
    }

    /// <summary>
    /// The province and Kunming as <c>govshare node run</c> processes, linked both ways; a province department's
    /// resource of <c>rows</c> rows (unconditional) and a Kunming department to pull it through Kunming; both nodes
    /// with Kestrel's inline scheduling when <c>inlineScheduling</c>. Started once Kunming sees its parent link up.
    /// </summary>
    private sealed class Tree : IAsyncDisposable
    {
        private NodeProcess _provinceNode = null!;
        private NodeProcess _kunmingNode = null!;
        private bool _provinceGone;

        public Dictionary<string, string?> Province { get; private init; } = null!;

        public Dictionary<string, string?> Kunming { get; private init; } = null!;

        public HttpClient UserClient { get; private set; } = null!;

        /// <summary>The province department that offers the resource, at the province.</summary>
        public HttpClient ProviderClient { get; private set; } = null!;

        public static async Task<Tree> StartAsync(TestPki pki, int rows, bool inlineScheduling = false)
        {
            var provinceExchange = Loopback.FreePort();
            var kunmingExchange = Loopback.FreePort();
            var tree = new Tree { Province = Settings(pki, "530000", provinceExchange, inlineScheduling), Kunming = Settings(pki, "530100", kunmingExchange, inlineScheduling) };
            var (province, kunming) = (tree.Province, tree.Kunming);
            kunming["Upstream:ParentUrl"] = $"https://localhost:{provinceExchange}/";
            kunming["Upstream:ParentDivisionCode"] = "530000";
            kunming["Upstream:ParentKeySha256"] = pki.NodeKey("530000");
            var provider = pki.IssueDepartment("530000", name: "Yunnan Provincial Public Security Department");
            var user = pki.IssueDepartment("530100", name: "Kunming Civil Affairs Bureau");
            try
            {
                tree._provinceNode = await NodeProcess.StartAsync(province, Port(province, "Node:ManagementUrl"));
                tree._kunmingNode = await NodeProcess.StartAsync(kunming, Port(kunming, "Node:ManagementUrl"));
                await tree._provinceNode.RegisterAsync(province["Node:DataPath"]!, provider);
                await tree._kunmingNode.RegisterAsync(kunming["Node:DataPath"]!, user);
                using (var operatorClient = Management(tree._provinceNode, province))
                {
                    using var linked = await operatorClient.PostAsJsonAsync("v1/operator/links", new LinkRegistration("530100", LinkRole.Child, $"https://localhost:{kunmingExchange}/", pki.NodeKey("530100")));
                    Assert.True(linked.IsSuccessStatusCode, $"linking the child: {(int)linked.StatusCode} {await linked.Content.ReadAsStringAsync()}");
                }

                var providerClient = tree.ProviderClient = TestNode.ClientFor(pki, new Uri($"https://localhost:{provinceExchange}/"), provider.Certificate);
                tree.UserClient = TestNode.ClientFor(pki, new Uri($"https://localhost:{kunmingExchange}/"), user.Certificate);
                Assert.Equal(HttpStatusCode.Created, (await providerClient.PostAsJsonAsync("v1/catalog", ExchangeFixture.Entry(ExchangeFixture.Unconditional, provider, new ShareAttributes(ShareType.Unconditional)), CatalogJson.Options)).StatusCode);
                using var pushed = await providerClient.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional), ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync(ExchangeFixture.People(rows))));
                Assert.Equal(HttpStatusCode.OK, pushed.StatusCode);

                // Kunming forwards only over a link its probe found up. Its first probe can reach the province before
                // the province has linked it (above), and then the link stays down until the next probe
                // (Hierarchy:HealthInterval): a forward in between is a correct 503. The tests start after the probe.
                using var kunmingScraper = Scraper(kunming);
                await EventuallyAsync(async () => (await ScrapeAsync(kunmingScraper)).Sum("govshare_link_up", ("govshare_link_division", "530000"), ("govshare_link_direction", "parent")) == 1, "Kunming never saw its parent link up");
                return tree;
            }
            catch
            {
                await tree.DisposeAsync();
                throw;
            }
        }

        /// <summary>Stops the province as its operator would (SIGTERM; it must exit 0).</summary>
        public async Task StopProvinceAsync()
        {
            _provinceGone = true;
            await _provinceNode.DisposeAsync();
        }

        /// <summary>Kills the province's process (SIGKILL): what a crash or a lost machine does to its connections.</summary>
        public async Task KillProvinceAsync()
        {
            _provinceGone = true;
            await _provinceNode.SignalAsync("KILL");
            Assert.True(await _provinceNode.WaitForExitAsync(NodeProcess.StopPatience), "the province survived SIGKILL");
            _provinceNode.Process.Dispose();
        }

        public async ValueTask DisposeAsync()
        {
            UserClient?.Dispose();
            ProviderClient?.Dispose();
            try
            {
                if (_kunmingNode is not null)
                {
                    await _kunmingNode.DisposeAsync();
                }
            }
            finally
            {
                if (_provinceNode is not null && !_provinceGone)
                {
                    await _provinceNode.DisposeAsync();
                }
            }
        }
    }
}
