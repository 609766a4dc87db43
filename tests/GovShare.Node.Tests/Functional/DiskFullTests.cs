using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Exchange;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Functional;

/// <summary>
/// A node whose data folder is on a real, small file system that fills up: a push that runs out of
/// space gets 507 and is logged; below the free-space floor the node is not ready and refuses pushes
/// up front; a log whose append failed refuses with 503 and retries; once space is freed the node
/// resumes without a restart and every chain verifies, with no gap and no duplicate.
/// </summary>
public sealed class DiskFullTests : IDisposable
{
    private const long Floor = 1024 * 1024;
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [SmallFileSystemFact]
    public async Task Node_DiskFillsDuringPushAndUnderTheLogs_507NotReady_ThenResumesWithoutRestart()
    {
        using var disk = SmallFileSystem.Mount(48L * 1024 * 1024);
        var node = await TestNode.StartAsync(_pki, configure: s =>
        {
            s["Node:DataPath"] = Path.Combine(disk.Path, "data");
            s["Node:MinFreeBytes"] = Floor.ToString(System.Globalization.CultureInfo.InvariantCulture);
        });
        await using (node)
        {
            var provider = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
            var user = _pki.IssueDepartment(name: "Kunming Civil Affairs Bureau");
            node.Register(provider);
            node.Register(user);
            var entry = ExchangeFixture.Entry(ExchangeFixture.Unconditional, provider, new ShareAttributes(ShareType.Unconditional));
            Assert.True(node.Services.GetRequiredService<CatalogStore>().Create(entry, ExchangeFixture.Caller(provider)).Succeeded);
            using var providerClient = node.Client(provider.Certificate);
            using var userClient = node.Client(user.Certificate);
            using var management = node.ManagementClient();
            var small = await ExchangeFixture.StreamAsync(ExchangeFixture.People(500));
            Assert.Equal(HttpStatusCode.OK, (await Push(providerClient, small)).StatusCode);

            // 1. The disk fills while a push is written: 507, nothing published, the refusal logged.
            var big = await ExchangeFixture.StreamAsync(ExchangeFixture.People(40_000));
            disk.Fill("filler-1", leaveFree: big.Length - (150 * 1024));
            Assert.True(disk.FreeBytes > Floor, "the push must pass the up-front check to fail while writing");
            using (var failed = await Push(providerClient, big))
            {
                var problem = await ProblemAssert.IsProblemAsync(failed, HttpStatusCode.InsufficientStorage, ProblemTypes.InsufficientStorage);
                var id = problem.GetProperty("exchangeId").GetString();
                Assert.Contains(ExchangeRecords(node), r => r.ExchangeId == id && r.Status == 507 && r.ProblemType == ProblemTypes.InsufficientStorage);
            }

            Assert.Equal(500, await PulledRows(userClient)); // still the first version: nothing half-published

            // 2. Below the floor: not ready, naming why; pushes refused up front with 507, and logged.
            disk.Fill("filler-2", leaveFree: Floor / 2);
            var notReady = await Health(management);
            Assert.Contains(notReady, r => r.Check == "free-space");
            using (var refused = await Push(providerClient, small))
            {
                var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.InsufficientStorage, ProblemTypes.InsufficientStorage);
                var id = problem.GetProperty("exchangeId").GetString();
                Assert.Contains(ExchangeRecords(node), r => r.ExchangeId == id && r.Status == 507);
            }

            // Pulls and catalog reads keep working while logging still can.
            using (var read = await userClient.GetAsync("v1/catalog/101001-000001"))
            {
                Assert.True(read.StatusCode == HttpStatusCode.OK, $"{read.StatusCode}: {await read.Content.ReadAsStringAsync()}\n{string.Join('\n', node.Logs)}");
            }

            Assert.Equal(500, await PulledRows(userClient));

            // 3. Full: the logs' appends fail. A read that cannot be logged is refused (503), not answered.
            disk.Fill("filler-3", leaveFree: 0);
            HttpResponseMessage? query = null;
            for (var i = 0; i < 200 && query?.StatusCode != HttpStatusCode.ServiceUnavailable; i++)
            {
                query = await userClient.GetAsync("v1/catalog/101001-000001");
            }

            await ProblemAssert.IsProblemAsync(query!, HttpStatusCode.ServiceUnavailable, ProblemTypes.LogUnavailable);
            HttpResponseMessage? pull = null;
            for (var i = 0; i < 200 && pull?.StatusCode != HttpStatusCode.ServiceUnavailable; i++)
            {
                try
                {
                    pull = await userClient.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "disk-test"));
                    _ = await pull.Content.ReadAsByteArrayAsync();
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException)
                {
                    // The one pull whose record failed is cut: unlogged data is never completed.
                }
            }

            await ProblemAssert.IsProblemAsync(pull!, HttpStatusCode.ServiceUnavailable, ProblemTypes.LogUnavailable);
            var full = await Health(management);
            Assert.Contains(full, r => r.Check == "logs" && r.Reason.Contains("the query log cannot append", StringComparison.Ordinal) && r.Reason.Contains("the exchange log cannot append", StringComparison.Ordinal));
            Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("health/live")).StatusCode); // it recovers by itself: no restart wanted

            // 4. Space freed: the node comes back by itself.
            foreach (var filler in Directory.EnumerateFiles(disk.Path, "filler-*"))
            {
                File.Delete(filler);
            }

            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
            while ((await Health(management)).Count > 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the node did not become ready after space was freed");
                await Task.Delay(200);
            }

            Assert.Equal(HttpStatusCode.OK, (await Push(providerClient, small)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await userClient.GetAsync("v1/catalog/101001-000001")).StatusCode);
            Assert.True(await PulledRows(userClient) > 0);
            Assert.Contains(node.Logs, l => l.Contains("[6007:LogResumed]", StringComparison.Ordinal));
            Assert.Contains(node.Logs, l => l.Contains("[4104:PushNoSpace]", StringComparison.Ordinal));
        }

        // The chains: no gap, no duplicate, every record and checkpoint verifies.
        var store = LogStore.ForDataFolder(Path.Combine(disk.Path, "data"));
        using var certificate = _pki.NodeCertificate("530100");
        using var key = certificate.GetECDsaPublicKey();
        foreach (var log in Enum.GetValues<LogKind>())
        {
            var verification = LogVerifier.VerifyStore(store, log, key);
            Assert.True(verification.Ok, verification.Message);
        }

        var succeeded = store.ReadEntries(LogKind.Exchange).Select(e => e.Record).OfType<LogRecord>().Where(r => r.Status == 200).Select(r => r.ExchangeId).ToList();
        Assert.Equal(succeeded.Count, succeeded.Distinct().Count());
    }

    private static Task<HttpResponseMessage> Push(HttpClient client, byte[] body) =>
        client.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional), ExchangeFixture.ArrowContent(body));

    private static async Task<long> PulledRows(HttpClient client)
    {
        using var response = await client.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "disk-test"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (_, batches) = await ExchangeFixture.ReadAsync(response);
        return batches.Sum(b => (long)b.Length);
    }

    private static List<LogRecord> ExchangeRecords(TestNode node) =>
        LogStore.ForDataFolder(node.DataPath).ReadEntries(LogKind.Exchange).Select(e => e.Record).OfType<LogRecord>().ToList();

    /// <summary>The readiness probe's reasons; empty when ready.</summary>
    private static async Task<List<(string Check, string Reason)>> Health(HttpClient management)
    {
        using var response = await management.GetAsync("health/ready");
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var reasons = body.GetProperty("reasons").EnumerateArray().Select(r => (r.GetProperty("check").GetString()!, r.GetProperty("reason").GetString()!)).ToList();
        Assert.Equal(reasons.Count == 0, response.StatusCode == HttpStatusCode.OK);
        return reasons;
    }
}
