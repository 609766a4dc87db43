using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Kernel;
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
            Assert.Equal("govshare-aggregate/2", header[0]);
            Assert.True(long.Parse(header[1], System.Globalization.CultureInfo.InvariantCulture) > 0);
        }
    }

    /// <summary>
    /// The first rebuild at start, on the real process over a long log (200,000 records written before
    /// the start with the real writer and the node's key, no saved aggregate): a <c>/v1/stats</c> during it
    /// gets 503 <c>aggregates-rebuilding</c> problem+json with Retry-After (<c>Logs:AggregatePatience</c> 0:
    /// refused at once, as an operator may set it); a SIGTERM during it stops the node, exit 0, saying the
    /// rebuild was stopped; the next start goes on from what was folded and a later request gets the figures
    /// of a full scan of the same log.
    /// </summary>
    [Fact]
    public async Task NodeProcess_RequestDuringTheFirstRebuild_Gets503AndLaterTheFigures()
    {
        const int Records = 200_000;
        var settings = TestNode.DefaultSettings(_pki, "530100");
        var exchangePort = Loopback.FreePort();
        var managementPort = Loopback.FreePort();
        settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{exchangePort}";
        settings["Node:ManagementUrl"] = $"http://127.0.0.1:{managementPort}";
        settings["Logs:AggregatePatience"] = "00:00:00";
        var dataPath = settings["Node:DataPath"]!;
        var department = _pki.IssueDepartment(name: "Kunming Civil Affairs Bureau");
        await using (var node = await NodeProcess.StartAsync(settings, managementPort))
        {
            await node.RegisterAsync(dataPath, department);
        }

        // A long exchange log, as years of traffic leave it, written by the real writer with the node's key.
        using (var certificate = X509Certificate2.CreateFromPemFile(settings["Node:Certificate"]!, settings["Node:Key"]!))
        using (var key = certificate.GetECDsaPrivateKey()!)
        using (var folder = NodeDataFolder.Open(dataPath))
        await using (var writer = new LogWriter(folder, "530100", key, new LogOptions(), TimeProvider.System))
        {
            var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.FromHours(8));
            for (var done = 0; done < Records; done += 8192)
            {
                await Task.WhenAll(Enumerable.Range(done, Math.Min(8192, Records - done)).Select(i => writer.AppendAsync(LogKind.Exchange,
                    LogFolder.Exchange(i, $"530100100000000{i % 7}", $"govshare:dept/530100/{department.CreditCode}") with { Time = start + TimeSpan.FromMinutes(i) })));
            }
        }

        foreach (var file in Directory.EnumerateFiles(Path.Combine(dataPath, "logs"), "*", SearchOption.AllDirectories).Where(f => ChainAggregateFiles.IsDerived(Path.GetFileName(f))))
        {
            File.Delete(file);
        }

        var uri = new Uri($"https://localhost:{exchangePort}/");
        const string Query = "v1/stats?dimension=resource&period=month";
        await using (var node = await NodeProcess.StartAsync(settings, managementPort))
        {
            using var client = TestNode.ClientFor(_pki, uri, department.Certificate);
            using var refused = await client.GetAsync(new Uri(Query, UriKind.Relative));
            var body = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)refused.StatusCode} {body}\n{string.Join('\n', node.Output)}");
            Assert.Equal(MediaTypes.Problem, refused.Content.Headers.ContentType?.MediaType);
            Assert.Equal(AggregatesNotReadyException.RetryAfter, refused.Headers.RetryAfter?.Delta);
            Assert.Equal(ProblemTypes.AggregatesRebuilding, JsonDocument.Parse(body).RootElement.GetProperty("type").GetString());

            // Stopped while it rebuilds: it does not wait for the rebuild, and exits 0.
            await node.SignalAsync();
            Assert.True(await node.WaitForExitAsync(NodeProcess.StopPatience), string.Join('\n', node.Output));
            Assert.Equal(0, node.Process.ExitCode);
            Assert.Contains(node.Output, l => l.Contains("was stopped after", StringComparison.Ordinal));
        }

        // What a full scan of the same log says (what the endpoint computed per request before the aggregates).
        var expected = LogStatistics.Compute(
            LogStore.ForDataFolder(dataPath).ReadEntries(LogKind.Exchange, 1, long.MaxValue).Where(e => e.Type == LogEntryType.Record).Select(e => e.Record!),
            StatisticsDimension.Resource, StatisticsPeriod.Month, LogStatistics.ChinaStandardTime);
        Assert.Equal(Records, expected.Sum(r => r.Exchanges));

        // Started again: it goes on from what was folded; asked again after Retry-After (here: a second), it answers with the figures.
        await using (var node = await NodeProcess.StartAsync(settings, managementPort))
        {
            using var client = TestNode.ClientFor(_pki, uri, department.Certificate);
            var deadline = DateTime.UtcNow.AddMinutes(10);
            while (true)
            {
                using var response = await client.GetAsync(new Uri(Query, UriKind.Relative));
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    var rows = JsonDocument.Parse(body).RootElement.GetProperty("rows").EnumerateArray()
                        .Select(r => (r.GetProperty("key").GetString(), r.GetProperty("periodStart").GetString(), r.GetProperty("exchanges").GetInt64(),
                            r.GetProperty("rows").GetInt64(), r.GetProperty("bytes").GetInt64(), r.GetProperty("distinctUsers").GetInt32()))
                        .ToList();
                    Assert.Equal(
                        expected.Select(r => ((string?)r.Key, (string?)r.PeriodStart.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), r.Exchanges, r.Rows, r.Bytes, r.DistinctUsers)),
                        rows);
                    break;
                }

                Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)response.StatusCode} {body}");
                Assert.True(DateTime.UtcNow < deadline, $"still rebuilding after 10 minutes\n{string.Join('\n', node.Output)}");
                await Task.Delay(1000);
            }
        }
    }
}
