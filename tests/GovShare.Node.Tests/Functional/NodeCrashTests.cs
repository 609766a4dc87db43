using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Catalog;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Exchange;

namespace GovShare.Node.Tests.Functional;

/// <summary>
/// The node as operators run it — the <c>govshare node run</c> process — killed with SIGKILL while
/// departments push and pull: after a restart every exchange that got a success response has its
/// record, the chain verifies, and no exchange is recorded twice.
/// </summary>
public sealed class NodeCrashTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task NodeProcess_KilledUnderLoad_EveryAcknowledgedExchangeIsLoggedAfterRestart()
    {
        var settings = TestNode.DefaultSettings(_pki, "530100");
        var exchangePort = Loopback.FreePort();
        var managementPort = Loopback.FreePort();
        settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{exchangePort}";
        settings["Node:ManagementUrl"] = $"http://127.0.0.1:{managementPort}";
        var provider = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
        var user = _pki.IssueDepartment(name: "Kunming Civil Affairs Bureau");
        var acknowledged = new ConcurrentBag<string>();

        await using (var node = await NodeProcess.StartAsync(settings, managementPort))
        {
            await node.RegisterAsync(settings["Node:DataPath"]!, provider, user);

            var address = new Uri($"https://localhost:{exchangePort}/");
            using var providerClient = TestNode.ClientFor(_pki, address, provider.Certificate);
            using var userClient = TestNode.ClientFor(_pki, address, user.Certificate);
            var entry = ExchangeFixture.Entry(ExchangeFixture.Unconditional, provider, new ShareAttributes(ShareType.Unconditional));
            Assert.Equal(HttpStatusCode.Created, (await providerClient.PostAsJsonAsync("v1/catalog", entry, CatalogJson.Options)).StatusCode);
            var body = await ExchangeFixture.StreamAsync(ExchangeFixture.People(50));
            Assert.Equal(HttpStatusCode.OK, (await providerClient.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional), ExchangeFixture.ArrowContent(body))).StatusCode);

            using var stop = new CancellationTokenSource();
            async Task Load(HttpClient client, bool push)
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        using var response = push
                            ? await client.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional, "mode=append"), ExchangeFixture.ArrowContent(body), stop.Token)
                            : await client.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "crash-test"), stop.Token);
                        var content = await response.Content.ReadAsByteArrayAsync(stop.Token);
                        if (response.StatusCode == HttpStatusCode.OK && (push || EndsWithEndOfStream(content)))
                        {
                            acknowledged.Add(response.Headers.GetValues("GovShare-Exchange-Id").Single());
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
                    {
                        // The node died mid-exchange: this one was never acknowledged.
                    }
                }
            }

            var workers = Enumerable.Range(0, 6).Select(i => Load(i % 2 == 0 ? providerClient : userClient, push: i % 2 == 0)).ToList();
            while (acknowledged.Count < 60)
            {
                await Task.Delay(50);
            }

            node.Process.Kill(); // SIGKILL: no shutdown, no flush.
            await node.Process.WaitForExitAsync();
            await stop.CancelAsync();
            await Task.WhenAll(workers);
        }

        // Restart on the same folder: recovery runs, then the log is read as the operator would.
        // Disposing it stops it with SIGTERM and asserts a clean exit: no node outlives the test.
        await using (await NodeProcess.StartAsync(settings, managementPort))
        {
            var store = LogStore.ForDataFolder(settings["Node:DataPath"]!);
            var records = store.ReadEntries(LogKind.Exchange).Select(e => e.Record).OfType<LogRecord>().ToList();
            var logged = records.Where(r => r.Status == 200).Select(r => r.ExchangeId).ToList();
            Assert.Empty(acknowledged.Except(logged));
            Assert.Equal(logged.Count, logged.Distinct().Count());
            using var certificate = X509CertificateLoader.LoadCertificateFromFile(settings["Node:Certificate"]!);
            using var key = certificate.GetECDsaPublicKey();
            var verification = LogVerifier.VerifyStore(store, LogKind.Exchange, key);
            Assert.True(verification.Ok, verification.Message);
        }
    }

    /// <summary>A whole Arrow stream ends with the end-of-stream marker: continuation, then a zero length.</summary>
    private static bool EndsWithEndOfStream(byte[] content) =>
        content.Length >= 8 && content.AsSpan(content.Length - 8).SequenceEqual(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0 });
}
