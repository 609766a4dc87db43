using System.Net;
using System.Net.Http.Json;
using GovShare.Node.Catalog;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;

namespace GovShare.Node.Tests.Logs;

/// <summary>
/// The first start after the upgrade that introduced the saved aggregates (or after they were
/// lost): the real <c>govshare node run</c> process brings them up to date by itself
/// (Logs/AggregateWarmup), without a request paying for it; a SIGTERM during it still exits 0.
/// </summary>
public sealed class AggregateWarmupTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task NodeProcess_StartedWithoutSavedAggregates_WritesThemWithoutAnyRequest()
    {
        var settings = TestNode.DefaultSettings(_pki, "530100");
        var exchangePort = Loopback.FreePort();
        var managementPort = Loopback.FreePort();
        settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{exchangePort}";
        settings["Node:ManagementUrl"] = $"http://127.0.0.1:{managementPort}";
        var dataPath = settings["Node:DataPath"]!;
        var logs = Path.Combine(dataPath, "logs");
        string[] files =
        [
            Path.Combine(logs, "exchange", ExchangeStatistics.FileName),
            Path.Combine(logs, "exchange", ChainAggregateFiles.Evaluation),
            Path.Combine(logs, "change", ChainAggregateFiles.Evaluation),
        ];
        var provider = _pki.IssueDepartment(name: "Kunming Public Security Bureau");

        // A node with exchange records in its log.
        await using (var node = await NodeProcess.StartAsync(settings, managementPort))
        {
            await node.RegisterAsync(dataPath, provider);
            using var client = TestNode.ClientFor(_pki, new Uri($"https://localhost:{exchangePort}/"), provider.Certificate);
            var entry = ExchangeFixture.Entry(ExchangeFixture.Unconditional, provider, new ShareAttributes(ShareType.Unconditional));
            Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("v1/catalog", entry, CatalogJson.Options)).StatusCode);
            var body = await ExchangeFixture.StreamAsync(ExchangeFixture.People(20));
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await client.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional, "mode=append"), ExchangeFixture.ArrowContent(body))).StatusCode);
            }
        }

        // As after the upgrade: the log, no saved aggregate.
        foreach (var file in files)
        {
            File.Delete(file);
        }

        Assert.True(LogStore.ForDataFolder(dataPath).ReadEntries(LogKind.Exchange, 1, long.MaxValue).Count(e => e.Type == LogEntryType.Record) >= 3);

        // Stopped at once while it has every aggregate to rebuild: the stop does not wait for the fold
        // and exits 0 (NodeProcess asserts it on dispose, within 60 s). What was folded may be saved: delete again.
        await using (var node = await NodeProcess.StartAsync(settings, managementPort))
        {
            await node.SignalAsync();
            Assert.True(await node.WaitForExitAsync(NodeProcess.StopPatience), string.Join('\n', node.Output));
            Assert.Equal(0, node.Process.ExitCode);
        }

        foreach (var file in files)
        {
            File.Delete(file);
        }

        // Started again, and no request at all: the files come back by themselves.
        await using (var node = await NodeProcess.StartAsync(settings, managementPort))
        {
            var deadline = DateTime.UtcNow.AddSeconds(180);
            while (!files.All(File.Exists) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }

            Assert.True(files.All(File.Exists), $"missing after 180 s: {string.Join(", ", files.Where(f => !File.Exists(f)))}\n{string.Join('\n', node.Output)}");

            // They are real aggregates of this chain (header: format, last sequence folded, its hash).
            var header = File.ReadLines(files[0]).First().Split(' ');
            Assert.Equal("govshare-aggregate/1", header[0]);
            Assert.True(long.Parse(header[1], System.Globalization.CultureInfo.InvariantCulture) > 0);
        }
    }
}
