using System.Diagnostics;
using System.Globalization;
using System.Net;
using GovShare.Contract;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using GovShare.Node.Tests.Requests;
using Xunit.Abstractions;

namespace GovShare.Node.Tests.State;

/// <summary>
/// Two replicas of one node (issue 19) as operators run them: two <c>govshare node run</c>
/// processes of division 530100 with <c>State:Backend=postgresql</c> on one throwaway PostgreSQL
/// and one shared dataset folder. A department registered through one is served by the other; a
/// request made on one is decided on the other; a version pushed to one is pulled from the other,
/// and both replicas' statistics and scorecards count the two exchanges; and a grant revoked
/// through one refuses pulls on the other.
/// </summary>
public sealed class ReplicaProcessTests(PostgresCluster cluster, ITestOutputHelper output) : IClassFixture<PostgresCluster>, IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task TwoReplicasOnOnePostgreSql_ShareStateAndDatasets_AndARevocationActsOnBoth()
    {
        var database = cluster.NewDatabase();
        var datasets = Path.Combine(_pki.Root, "shared-datasets");
        var (a, aSettings) = await StartReplicaAsync("a", database, datasets);
        await using var replicaA = a;
        var (b, _) = await StartReplicaAsync("b", database, datasets);
        await using var replicaB = b;
        var addressA = new Uri($"https://localhost:{new Uri(aSettings["Node:ExchangeUrl"]!).Port}/");
        var addressB = new Uri($"https://localhost:{b.ExchangePort}/");

        var provider = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
        var user = _pki.IssueDepartment(name: "Kunming Civil Affairs Bureau");
        await replicaA.Process.RegisterAsync(aSettings["Node:DataPath"]!, provider, user);
        using var providerOnA = TestNode.ClientFor(_pki, addressA, provider.Certificate);
        using var providerOnB = TestNode.ClientFor(_pki, addressB, provider.Certificate);
        using var userOnB = TestNode.ClientFor(_pki, addressB, user.Certificate);

        // Registered and catalogued through A; B serves both (it follows A's commits).
        await RequestsHttp.CreateEntryAsync(providerOnA, provider);
        var clock = Stopwatch.StartNew();
        HttpResponseMessage applied;
        while ((applied = await RequestsHttp.Post(userOnB, "v1/requests", RequestsHttp.ApplicationFor("social-assistance", RequestsHttp.Conditional, RequestsHttp.Today, RequestsHttp.Today.AddDays(60), "公民身份号码"))).StatusCode != HttpStatusCode.Created)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"B never served the department registered through A: {(int)applied.StatusCode} {await applied.Content.ReadAsStringAsync()}");
            await Task.Delay(50);
        }

        output.WriteLine($"B served A's registration and catalog entry after {clock.ElapsedMilliseconds} ms");
        var requestId = (await RequestsHttp.Ok(applied, HttpStatusCode.Created)).GetProperty("id").GetString();

        // Made on B, decided on A: requests are read from the shared state, not a snapshot.
        var decided = await RequestsHttp.Ok(await RequestsHttp.Post(providerOnA, $"v1/requests/{requestId}/decision", new { outcome = "approve" }));
        var grantId = decided.GetProperty("decision").GetProperty("grantId").GetString()!;

        // Pushed to A, pulled from B: one version, published by its row in PostgreSQL, its file on the shared folder.
        using (var pushed = await providerOnA.PostAsync(ExchangeFixture.DataPath(RequestsHttp.Conditional), ExchangeFixture.ArrowContent(await Residents(20, seed: 1))))
        {
            Assert.True(pushed.StatusCode == HttpStatusCode.OK, await pushed.Content.ReadAsStringAsync());
        }

        clock.Restart();
        while (true)
        {
            using var pull = await userOnB.SendAsync(ExchangeFixture.Pull(RequestsHttp.Conditional, "social-assistance"));
            if (pull.StatusCode == HttpStatusCode.OK)
            {
                var (_, batches) = await ExchangeFixture.ReadAsync(pull);
                Assert.Equal(20, batches.Sum(x => x.Length));
                break;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"B never served the grant made through A: {(int)pull.StatusCode} {await pull.Content.ReadAsStringAsync()}");
            await Task.Delay(50);
        }

        // Pushed through A, pulled through B: each replica's statistics and the provider's scorecard count both,
        // read from both replicas' chains on the shared volume (replicas/a, replicas/b).
        foreach (var (name, client) in new[] { ("A", providerOnA), ("B", providerOnB) })
        {
            clock.Restart();
            while (true)
            {
                var stats = await RequestsHttp.Get(client, "v1/stats?dimension=resource&period=month");
                var exchanges = stats.GetProperty("rows").EnumerateArray()
                    .Where(r => r.GetProperty("key").GetString() == RequestsHttp.Conditional).Sum(r => r.GetProperty("exchanges").GetInt64());
                var card = await RequestsHttp.Get(client, "v1/evaluation/scorecard");
                var (pushes, served) = (card.GetProperty("pushed").GetProperty("exchanges").GetInt64(), card.GetProperty("served").GetProperty("exchanges").GetInt64());
                if (exchanges == 2 && pushes == 1 && served == 1)
                {
                    break;
                }

                Assert.True(exchanges <= 2 && pushes <= 1 && served <= 1, $"{name} counted more than happened: {stats} {card}");
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"{name} does not count the other replica's exchange: {exchanges} exchanges in /v1/stats, scorecard pushed {pushes} served {served}");
                await Task.Delay(100);
            }
        }

        // Revoked through A; B refuses the next pull within the bound (notification, else State:CatchUpInterval).
        await RequestsHttp.Ok(await RequestsHttp.Post(providerOnA, $"v1/grants/{grantId}/revoke", new { reasonCode = "misuse", reasonText = "超出申请用途使用" }));
        clock.Restart();
        while (true)
        {
            using var pull = await userOnB.SendAsync(ExchangeFixture.Pull(RequestsHttp.Conditional, "social-assistance"));
            if (pull.StatusCode == HttpStatusCode.Forbidden)
            {
                await ProblemAssert.IsProblemAsync(pull, HttpStatusCode.Forbidden, ProblemTypes.NoGrant);
                break;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "B still served a grant revoked through A after 60 s");
            await Task.Delay(20);
        }

        output.WriteLine($"B refused the grant revoked through A after {clock.ElapsedMilliseconds} ms (bound: notification, else State:CatchUpInterval = 2 s)");

        // The provider's own view through B agrees.
        var grant = await RequestsHttp.Get(providerOnB, $"v1/grants/{grantId}");
        Assert.Equal("revoked", grant.GetProperty("status").GetString());

        // An online backup of one replica would not be the node's: refused, naming pg_dump.
        using var management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{replicaA.Process.ManagementPort}/"), Timeout = TimeSpan.FromMinutes(2) };
        management.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", GovShare.Node.Management.OperatorToken.ReadFrom(aSettings["Node:DataPath"]!));
        using var backup = await management.GetAsync("v1/operator/backup");
        var refusal = await ProblemAssert.IsProblemAsync(backup, HttpStatusCode.Conflict, ProblemTypes.BackupNotSupported);
        Assert.Contains("pg_dump", refusal.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    /// <summary>Rows for the catalog fixture's three items (公民身份号码, 姓名, 出生日期).</summary>
    internal static Task<byte[]> Residents(int rows, int seed = 0)
    {
        var schema = new Apache.Arrow.Schema.Builder()
            .Field(new Apache.Arrow.Field("公民身份号码", Apache.Arrow.Types.StringType.Default, false))
            .Field(new Apache.Arrow.Field("姓名", Apache.Arrow.Types.StringType.Default, true))
            .Field(new Apache.Arrow.Field("出生日期", Apache.Arrow.Types.Date32Type.Default, true))
            .Build();
        var ids = new Apache.Arrow.StringArray.Builder();
        var names = new Apache.Arrow.StringArray.Builder();
        var births = new Apache.Arrow.Date32Array.Builder();
        for (var i = 0; i < rows; i++)
        {
            ids.Append(ArrowSamples.IdNumber(seed, i));
            names.Append("居民" + i.ToString(CultureInfo.InvariantCulture));
            births.Append(new DateOnly(1950 + (i % 60), 1, 1));
        }

        return ExchangeFixture.StreamAsync([new Apache.Arrow.RecordBatch(schema, [ids.Build(), names.Build(), births.Build()], rows)]);
    }

    [Fact]
    public async Task LeaderReplicaKilled_AnotherTakesOverTheBackgroundWork()
    {
        var database = cluster.NewDatabase();
        var datasets = Path.Combine(_pki.Root, "shared-datasets");
        var (a, _) = await StartReplicaAsync("a", database, datasets);
        await using var replicaA = a;
        var (b, _) = await StartReplicaAsync("b", database, datasets);
        await using var replicaB = b;
        static bool Leads(Replica replica) => replica.Process.Output.Any(l => l.Contains("leads the node's background work: True", StringComparison.Ordinal));

        var clock = Stopwatch.StartNew();
        while (!Leads(replicaA) && !Leads(replicaB))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "no replica became the leader");
            await Task.Delay(50);
        }

        Assert.False(Leads(replicaA) && Leads(replicaB), "two leaders at once");
        var (leader, other) = Leads(replicaA) ? (replicaA, replicaB) : (replicaB, replicaA);
        leader.Process.Process.Kill(); // SIGKILL: its session ends with it, and so does its lock.
        await leader.Process.Process.WaitForExitAsync();

        clock.Restart();
        while (!Leads(other))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the surviving replica never took over");
            await Task.Delay(50);
        }

        output.WriteLine($"the other replica led {clock.ElapsedMilliseconds} ms after the leader was killed (bound: State:CatchUpInterval = 2 s, plus PostgreSQL noticing the dead session)");
        leader.Killed = true;
    }

    private async Task<(Replica Process, Dictionary<string, string?> Settings)> StartReplicaAsync(string id, string database, string datasets)
    {
        var settings = TestNode.DefaultSettings(_pki, "530100");
        // As the chart lays them out: each replica's data folder under one replicas/ folder, where
        // statistics and evaluation find the other replicas' chains.
        settings["Node:DataPath"] = Path.Combine(_pki.Root, "replicas", id);
        var exchangePort = Loopback.FreePort();
        var managementPort = Loopback.FreePort();
        settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{exchangePort}";
        settings["Node:ManagementUrl"] = $"http://127.0.0.1:{managementPort}";
        settings["State:Backend"] = "postgresql";
        settings["State:ConnectionString"] = database;
        settings["State:ReplicaId"] = id;
        settings["State:CatchUpInterval"] = "00:00:02";
        settings["Exchange:DatasetPath"] = datasets;
        return (new Replica(await NodeProcess.StartAsync(settings, managementPort), exchangePort), settings);
    }

    private sealed class Replica(NodeProcess process, int exchangePort) : IAsyncDisposable
    {
        public NodeProcess Process { get; } = process;

        public int ExchangePort { get; } = exchangePort;

        /// <summary>Killed by the test: exit code 137 is expected, not a failed stop.</summary>
        public bool Killed { get; set; }

        public ValueTask DisposeAsync()
        {
            if (Killed)
            {
                Process.Process.Dispose();
                return ValueTask.CompletedTask;
            }

            return Process.DisposeAsync();
        }
    }
}
