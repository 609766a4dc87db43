using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using GovShare.Node.Catalog;
using GovShare.Node.Hosting;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Management;
using GovShare.Node.Requests;
using GovShare.Node.Tests.Catalog;
using GovShare.Node.Tests.Functional;
using GovShare.Node.Tests.Requests;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace GovShare.Node.Tests.State;

/// <summary>
/// The change log as the write-ahead log of node state (issue 18), shown on the real process:
/// <c>govshare node run</c> is killed with SIGKILL at a random moment while departments are
/// registered, catalog entries created and share requests decided, ten times over. After each
/// restart every acknowledged change is there; at the end the state equals a replay of the
/// change log into an empty database, and a state set aside is rebuilt the same way.
/// </summary>
public sealed class StateCrashTests(ITestOutputHelper output) : IDisposable
{
    private const int Kills = 10;
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task NodeProcess_KilledDuringStateChanges_KeepsEveryAcknowledgedChange_AndEqualsAReplayOfTheChangeLog()
    {
        var settings = TestNode.DefaultSettings(_pki, "530100");
        var exchangePort = Loopback.FreePort();
        var managementPort = Loopback.FreePort();
        settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{exchangePort}";
        settings["Node:ManagementUrl"] = $"http://127.0.0.1:{managementPort}";
        var dataPath = settings["Node:DataPath"]!;
        var provider = _pki.IssueDepartment(name: "Kunming Civil Affairs Bureau");
        var user = _pki.IssueDepartment(name: "Kunming Human Resources Bureau");
        var address = new Uri($"https://localhost:{exchangePort}/");
        var departments = new ConcurrentBag<string>();
        var entries = new ConcurrentBag<string>();
        var grants = new ConcurrentBag<string>();
        var random = new Random();
        var sequence = 0;
        var clock = Stopwatch.StartNew();
        var replays = new ConcurrentQueue<string>();

        for (var run = 0; run <= Kills; run++)
        {
            var node = await NodeProcess.StartAsync(settings, managementPort, line =>
            {
                // The node's own account of the replay at start (event 6020, StateReplayed).
                if (line.Contains("StateReplayed", StringComparison.Ordinal) || line.Contains("change-log records into the node state", StringComparison.Ordinal))
                {
                    replays.Enqueue(line.Trim());
                }
            });
            try
            {
                using var management = Operator(dataPath, managementPort);
                using var providerClient = TestNode.ClientFor(_pki, address, provider.Certificate);
                using var userClient = TestNode.ClientFor(_pki, address, user.Certificate);
                if (run == 0)
                {
                    foreach (var department in new[] { provider, user })
                    {
                        Assert.True((await Send(management, HttpMethod.Post, "v1/operator/departments", new DepartmentRegistration(department.Division, department.CreditCode, department.Name))).IsSuccessStatusCode);
                    }

                    await RequestsHttp.CreateEntryAsync(providerClient, provider);
                }
                else
                {
                    await AssertAcknowledgedPresentAsync(management, providerClient, departments, entries, grants, run);
                    output.WriteLine($"restart {run}: the node's replay: {(replays.TryDequeue(out var replay) ? replay : "none needed (the database had every logged change)")}");
                }

                if (run == Kills)
                {
                    break;
                }

                using var stop = new CancellationTokenSource();
                var counts = new[] { departments.Count, entries.Count, grants.Count };
                var streams = new[]
                {
                    Stream(async () =>
                    {
                        var code = TestPki.NewCreditCode();
                        if ((await Send(management, HttpMethod.Post, "v1/operator/departments", new DepartmentRegistration("530100", code, "Bureau " + code))).IsSuccessStatusCode)
                        {
                            departments.Add(code);
                        }
                    }, stop.Token),
                    Stream(async () =>
                    {
                        var code = $"101001/{Interlocked.Increment(ref sequence):D6}";
                        if ((await Send(providerClient, HttpMethod.Post, "v1/catalog", CatalogHttp.Entry(code, provider, ShareType.Unconditional))).StatusCode == HttpStatusCode.Created)
                        {
                            entries.Add(code);
                        }
                    }, stop.Token),
                    Stream(async () =>
                    {
                        var purpose = $"case-{Interlocked.Increment(ref sequence)}";
                        using var applied = await Send(userClient, HttpMethod.Post, "v1/requests", RequestsHttp.ApplicationFor(purpose, RequestsHttp.Conditional, RequestsHttp.Today, RequestsHttp.Today.AddDays(60), "公民身份号码"));
                        if (applied.StatusCode != HttpStatusCode.Created)
                        {
                            return;
                        }

                        var id = JsonDocument.Parse(await applied.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();
                        using var decided = await Send(providerClient, HttpMethod.Post, $"v1/requests/{id}/decision", new { outcome = "approve" });
                        if (decided.StatusCode == HttpStatusCode.OK)
                        {
                            grants.Add(JsonDocument.Parse(await decided.Content.ReadAsStringAsync()).RootElement.GetProperty("decision").GetProperty("grantId").GetString()!);
                        }
                    }, stop.Token),
                };

                // A random moment: after at least one change of each stream was acknowledged, then 0-1.5 s more.
                while (departments.Count == counts[0] || entries.Count == counts[1] || grants.Count == counts[2])
                {
                    await Task.Delay(20);
                }

                await Task.Delay(random.Next(0, 1500));
                node.Process.Kill(); // SIGKILL: no shutdown, no flush, LiteDB's cache lost.
                await node.Process.WaitForExitAsync();
                await stop.CancelAsync();
                await Task.WhenAll(streams);
                output.WriteLine($"kill {run + 1}: {departments.Count} registrations, {entries.Count} catalog entries, {grants.Count} grants acknowledged so far");
            }
            finally
            {
                // Stopped by SIGTERM as an operator stops it, and it must exit 0 (a killed one has exited already).
                await node.DisposeAsync();
            }
        }

        output.WriteLine($"{Kills} kills, {departments.Count + entries.Count + grants.Count} acknowledged changes, all present after restart; {clock.Elapsed.TotalSeconds:F0} s");

        // The state equals a replay of the change log: the folder's state against the same change log replayed into an empty database.
        var replayed = Path.Combine(_pki.Root, "replayed-" + Guid.NewGuid().ToString("N"));
        CopyFolder(dataPath, replayed);
        Assert.NotNull(NodeDataFolder.SetStateAside(replayed));
        var kept = await StateOfAsync(settings, dataPath);
        var rebuilt = await StateOfAsync(settings, replayed);
        Assert.Equal(kept.Departments, rebuilt.Departments);
        Assert.Equal(kept.Catalog, rebuilt.Catalog);
        Assert.Equal(kept.Grants, rebuilt.Grants);
        Assert.Equal(kept.Streams, rebuilt.Streams);
        Assert.Contains(grants.First(), rebuilt.Grants, StringComparison.Ordinal);
        output.WriteLine($"state equals its replay: {kept.Departments.Length + kept.Catalog.Length + kept.Grants.Length + kept.Streams.Length} characters of state compared");
    }

    private static Task Stream(Func<Task> step, CancellationToken stop) => Task.Run(async () =>
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await step();
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException or JsonException or System.Net.Sockets.SocketException)
            {
                // The node died mid-change: this one was never acknowledged. (A connection the kill cut
                // while it was being made surfaces as a bare SocketException from HttpClient's connect.)
            }
        }
    }, CancellationToken.None);

    private async Task AssertAcknowledgedPresentAsync(HttpClient management, HttpClient provider, IEnumerable<string> departments, IEnumerable<string> entries, IEnumerable<string> grants, int run)
    {
        var registered = (await RequestsHttp.Get(management, "v1/operator/departments")).EnumerateArray().Select(d => d.GetProperty("creditCode").GetString()).ToHashSet();
        Assert.All(departments, d => Assert.Contains(d, registered));
        foreach (var code in entries)
        {
            using var response = await provider.GetAsync($"v1/catalog/{ResourceCode.ToUrl(code)}");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"after kill {run}: acknowledged entry {code} is {(int)response.StatusCode}");
        }

        var granted = (await RequestsHttp.Get(management, "v1/operator/grants")).EnumerateArray().Select(g => g.GetProperty("id").GetString()).ToHashSet();
        Assert.All(grants, g => Assert.Contains(g, granted));
        output.WriteLine($"restart {run}: all {registered.Count} departments, {entries.Count()} entries and {granted.Count} grants acknowledged are present");
    }

    /// <summary>The state of a data folder as the stores hold it after open (and replay), as JSON text per part.</summary>
    internal static async Task<(string Departments, string Catalog, string Grants, string Streams)> StateOfAsync(Dictionary<string, string?> settings, string dataPath)
    {
        var node = GovShareNode.Build([], new Dictionary<string, string?>(settings) { ["Node:DataPath"] = dataPath });
        try
        {
            var services = node.Services;
            var departments = services.GetRequiredService<DepartmentRegistry>().All();
            // Every page: a quiet machine acknowledges more entries between kills than one page holds.
            var store = services.GetRequiredService<CatalogStore>();
            var entries = new List<CatalogEntry>();
            for (var page = 1; ; page++)
            {
                var listed = store.ListResources(new CatalogQuery(Page: page, PageSize: CatalogQuery.MaxPageSize, IncludeRetired: true));
                entries.AddRange(listed.Entries);
                if (listed.Entries.Count == 0 || entries.Count >= listed.Total)
                {
                    break;
                }
            }

            var grants = services.GetRequiredService<GrantStore>().All().OrderBy(g => g.Id, StringComparer.Ordinal);
            var streams = new
            {
                catalog = services.GetRequiredService<ICatalogChangeSink>().Read(0, 10_000),
                requests = services.GetRequiredService<IRequestChangeSink>().Read(0, 10_000),
            };
            return (Json(departments), Json(entries), Json(grants), Json(streams));
        }
        finally
        {
            await node.DisposeAsync();
        }
    }

    private static string Json(object value) => JsonSerializer.Serialize(value, CatalogJson.Options);

    private static HttpClient Operator(string dataPath, int managementPort)
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}/"), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OperatorToken.ReadFrom(dataPath));
        return client;
    }

    private static async Task<HttpResponseMessage> Send(HttpClient client, HttpMethod method, string url, object body) =>
        await CatalogHttp.Send(client, method, url, body);


    private static void CopyFolder(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
