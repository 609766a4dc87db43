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
using static GovShare.Node.Tests.Hosting.MetricsTests;

namespace GovShare.Node.Tests.Hierarchy;

/// <summary>
/// A province and Kunming, each a real <c>govshare node run</c> process on loopback (so the
/// process-wide meters count one node each): a Kunming department's pull of a province resource
/// is forwarded by Kunming, and Kunming's <c>/metrics</c> counts that forward — status and the
/// bytes it relayed — as its exchange log records it; both sides show their link up, and Kunming
/// shows it down once the province stops.
/// </summary>
public sealed class ForwardMetricsTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task KunmingForwardsAPullToTheProvince_ItsScrapeCountsTheForwardAndBothLinksUp_ThenDownWhenTheProvinceStops()
    {
        var provinceExchange = Loopback.FreePort();
        var kunmingExchange = Loopback.FreePort();
        var province = Settings("530000", provinceExchange);
        var kunming = Settings("530100", kunmingExchange);
        kunming["Upstream:ParentUrl"] = $"https://localhost:{provinceExchange}/";
        kunming["Upstream:ParentDivisionCode"] = "530000";
        kunming["Upstream:ParentKeySha256"] = _pki.NodeKey("530000");
        var provider = _pki.IssueDepartment("530000", name: "Yunnan Provincial Public Security Department");
        var user = _pki.IssueDepartment("530100", name: "Kunming Civil Affairs Bureau");

        var provinceNode = await NodeProcess.StartAsync(province, Port(province, "Node:ManagementUrl"));
        var provinceRunning = true;
        try
        {
            await using var kunmingNode = await NodeProcess.StartAsync(kunming, Port(kunming, "Node:ManagementUrl"));
            await provinceNode.RegisterAsync(province["Node:DataPath"]!, provider);
            await kunmingNode.RegisterAsync(kunming["Node:DataPath"]!, user);
            using (var operatorClient = Management(provinceNode, province))
            {
                using var linked = await operatorClient.PostAsJsonAsync("v1/operator/links", new LinkRegistration("530100", LinkRole.Child, $"https://localhost:{kunmingExchange}/", _pki.NodeKey("530100")));
                Assert.True(linked.IsSuccessStatusCode, $"linking the child: {(int)linked.StatusCode} {await linked.Content.ReadAsStringAsync()}");
            }

            using var providerClient = TestNode.ClientFor(_pki, new Uri($"https://localhost:{provinceExchange}/"), provider.Certificate);
            using var userClient = TestNode.ClientFor(_pki, new Uri($"https://localhost:{kunmingExchange}/"), user.Certificate);
            Assert.Equal(HttpStatusCode.Created, (await providerClient.PostAsJsonAsync("v1/catalog", ExchangeFixture.Entry(ExchangeFixture.Unconditional, provider, new ShareAttributes(ShareType.Unconditional)), CatalogJson.Options)).StatusCode);
            using (var pushed = await providerClient.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional), ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync(ExchangeFixture.People(250)))))
            {
                Assert.Equal(HttpStatusCode.OK, pushed.StatusCode);
            }

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
            provinceRunning = false;
            await provinceNode.DisposeAsync();
            await EventuallyAsync(async () => (await ScrapeAsync(kunmingScraper)).Sum("govshare_link_up", ("govshare_link_division", "530000"), ("govshare_link_direction", "parent")) == 0
                && (await ScrapeAsync(kunmingScraper)).Samples.Any(s => s.Name == "govshare_link_up"), "Kunming never saw its parent link down");
        }
        finally
        {
            if (provinceRunning)
            {
                await provinceNode.DisposeAsync();
            }
        }
    }

    private Dictionary<string, string?> Settings(string division, int exchangePort)
    {
        var settings = TestNode.DefaultSettings(_pki, division);
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

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string failure)
    {
        var until = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < until, failure);
            await Task.Delay(250);
        }
    }
}
