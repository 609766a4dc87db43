using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Catalog;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Xunit.Abstractions;

namespace GovShare.Node.Tests.State;

/// <summary>
/// The must-show of issue 19: three replicas of one division on one PostgreSQL, behind HAProxy in
/// TCP mode (TLS passes through to the replicas, which judge the client certificates). Departments
/// push and pull through HAProxy while one replica is killed with SIGKILL and the others are then
/// restarted one at a time with SIGTERM. Every exchange succeeds (a client retries a connection
/// the load balancer or a dying replica dropped), every acknowledged exchange is in a verified log
/// of some replica, and every pull returns a whole version that was pushed.
/// </summary>
public sealed class ScaleOutTests(PostgresCluster cluster, ITestOutputHelper output) : IClassFixture<PostgresCluster>, IDisposable
{
    private const int Departments = 3;
    // Bounds of the load: it runs until the restarts are done, but never past these.
    private const int MaxRoundsPerDepartment = 3000;
    private static readonly TimeSpan LoadCap = TimeSpan.FromMinutes(8);
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task ThreeReplicasBehindHaproxy_KillOneThenRollingRestart_EveryExchangeSucceedsAndIsLogged()
    {
        var database = cluster.NewDatabase();
        var datasets = Path.Combine(_pki.Root, "shared-datasets");
        var replicas = new Replica[3];
        for (var i = 0; i < replicas.Length; i++)
        {
            replicas[i] = new Replica(_pki, $"r{i + 1}", database, datasets);
            await replicas[i].StartAsync();
        }

        var frontPort = Loopback.FreePort();
        var haproxy = Haproxy.Start(_pki.Root, frontPort, replicas);
        try
        {
            var front = new Uri($"https://localhost:{frontPort}/");
            var providers = Enumerable.Range(0, Departments).Select(i => _pki.IssueDepartment(name: $"Provider {i}")).ToArray();
            var users = Enumerable.Range(0, Departments).Select(i => _pki.IssueDepartment(name: $"User {i}")).ToArray();
            await replicas[0].Process!.RegisterAsync(replicas[0].DataPath, [.. providers, .. users]);
            var codes = Enumerable.Range(0, Departments).Select(i => $"101001/{i + 1:D6}").ToArray();
            for (var i = 0; i < Departments; i++)
            {
                using var client = TestNode.ClientFor(_pki, front, providers[i].Certificate);
                var created = await Retry(() => CatalogHttp.Send(client, HttpMethod.Post, "v1/catalog", CatalogHttp.Entry(codes[i], providers[i], ShareType.Unconditional)), HttpStatusCode.Created);
                Assert.Equal(HttpStatusCode.Created, created.Status);
            }

            var acknowledged = new ConcurrentBag<string>();
            var pushedRows = new ConcurrentDictionary<string, ConcurrentBag<long>>();
            var failures = new ConcurrentQueue<string>();
            var retries = 0;
            var exchanges = 0;
            using var stop = new CancellationTokenSource(LoadCap);
            var clock = Stopwatch.StartNew();

            async Task Load(int i)
            {
                using var provider = TestNode.ClientFor(_pki, front, providers[i].Certificate);
                using var user = TestNode.ClientFor(_pki, front, users[i].Certificate);
                var tried = pushedRows.GetOrAdd(codes[i], _ => []);
                for (var round = 0; round < MaxRoundsPerDepartment && !stop.IsCancellationRequested; round++)
                {
                    // 10-59 rows, seeds below 50: every id number stays a valid 18-digit one.
                    var rows = 10 + (round % 50);
                    tried.Add(rows);
                    var stream = await ReplicaProcessTests.Residents(rows, seed: round % 50);
                    var push = await Retry(() => provider.PostAsync(ExchangeFixture.DataPath(codes[i]), ExchangeFixture.ArrowContent(stream)), HttpStatusCode.OK);
                    Interlocked.Add(ref retries, push.Retries);
                    Interlocked.Increment(ref exchanges);
                    if (push.Status != HttpStatusCode.OK)
                    {
                        failures.Enqueue($"push {codes[i]} round {round}: {push.Status} {push.Body}");
                        continue;
                    }

                    acknowledged.Add(push.ExchangeId!);
                    var pull = await Retry(async () =>
                    {
                        var response = await user.SendAsync(ExchangeFixture.Pull(codes[i], "social-assistance"));
                        if (response.StatusCode == HttpStatusCode.OK)
                        {
                            // A whole version or nothing: read it to the end here, inside the retry.
                            var (_, batches) = await ExchangeFixture.ReadAsync(response);
                            var total = batches.Sum(b => (long)b.Length);
                            if (!tried.Contains(total))
                            {
                                failures.Enqueue($"pull {codes[i]}: {total} rows is no version anyone pushed (half-published or interleaved)");
                            }
                        }

                        return response;
                    }, HttpStatusCode.OK);
                    Interlocked.Add(ref retries, pull.Retries);
                    Interlocked.Increment(ref exchanges);
                    if (pull.Status != HttpStatusCode.OK)
                    {
                        failures.Enqueue($"pull {codes[i]} round {round}: {pull.Status} {pull.Body}");
                        continue;
                    }

                    acknowledged.Add(pull.ExchangeId!);
                }
            }

            var load = Enumerable.Range(0, Departments).Select(i => Task.Run(() => Load(i))).ToArray();

            // Mid-load, kill -9 one replica: its in-flight exchanges are cut, clients retry on the others.
            await WaitForAsync(() => acknowledged.Count >= 12, load, stop.Token);
            replicas[1].Process!.Process.Kill();
            await replicas[1].Process!.Process.WaitForExitAsync();
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F0} s: killed r2 after {acknowledged.Count} acknowledged exchanges");
            var atKill = acknowledged.Count;
            await WaitForAsync(() => acknowledged.Count >= atKill + 12, load, stop.Token);
            replicas[1].ForgetKilled();
            await replicas[1].StartAsync();
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F0} s: r2 back, {acknowledged.Count} acknowledged, {retries} retries, {failures.Count} failures");

            // Rolling restart under load: SIGTERM one at a time, each must exit 0 and come back ready.
            var failuresBeforeRolling = failures.Count;
            foreach (var replica in replicas)
            {
                var before = acknowledged.Count;
                await replica.StopAsync();
                await WaitForAsync(() => acknowledged.Count >= before + 6, load, stop.Token);
                await replica.StartAsync();
                output.WriteLine($"{clock.Elapsed.TotalSeconds:F0} s: rolled {replica.Id}, {acknowledged.Count} acknowledged, {retries} retries");
            }

            await stop.CancelAsync();
            await Task.WhenAll(load);
            output.WriteLine($"{exchanges} exchanges in {clock.Elapsed.TotalSeconds:F0} s through HAProxy, {acknowledged.Count} acknowledged, {retries} retries, {failures.Count} failures ({failures.Count - failuresBeforeRolling} during the rolling restart)");
            Assert.True(failures.IsEmpty, string.Join('\n', failures.Take(10)) + Faults(replicas));

            // Every replica answers the node's statistics from all three chains: the same totals on each,
            // at least every acknowledged exchange (an exchange cut after it was logged counts, unacknowledged).
            var totals = new long[replicas.Length];
            var counted = Stopwatch.StartNew();
            do
            {
                for (var i = 0; i < replicas.Length; i++)
                {
                    using var direct = TestNode.ClientFor(_pki, new Uri($"https://localhost:{replicas[i].ExchangePort}/"), providers[0].Certificate);
                    using var stats = await direct.GetAsync("v1/stats?dimension=resource&period=month");
                    Assert.True(stats.StatusCode == HttpStatusCode.OK, await stats.Content.ReadAsStringAsync());
                    using var body = System.Text.Json.JsonDocument.Parse(await stats.Content.ReadAsStringAsync());
                    totals[i] = body.RootElement.GetProperty("rows").EnumerateArray().Sum(r => r.GetProperty("exchanges").GetInt64());
                }

                Assert.True(counted.Elapsed < TimeSpan.FromSeconds(60), $"the replicas' statistics disagree: {string.Join(", ", totals)} exchanges; {acknowledged.Distinct().Count()} acknowledged");
            }
            while (totals.Distinct().Count() > 1 || totals[0] < acknowledged.Distinct().Count());

            output.WriteLine($"each replica's /v1/stats counts {totals[0]} exchanges over the three chains ({acknowledged.Distinct().Count()} acknowledged)");

            // Every acknowledged exchange is in some replica's log, and every replica's chain verifies.
            foreach (var replica in replicas)
            {
                await replica.StopAsync();
            }

            var verify = await GovShareProcessRunner.RunAsync(["log", "verify", "--log", "Exchange", "--data", Path.Combine(_pki.Root, "node")]);
            Assert.True(verify.ExitCode == 0, verify.Output);
            var logged = new HashSet<string>(StringComparer.Ordinal);
            foreach (var replica in replicas)
            {
                Assert.Contains($"replica {replica.Id}: ", verify.Output, StringComparison.Ordinal);
                foreach (var entry in new LogStore(Path.Combine(replica.DataPath, "logs")).ReadEntries(LogKind.Exchange))
                {
                    if (entry.Record?.ExchangeId is { } id)
                    {
                        logged.Add(id);
                    }
                }
            }

            var missing = acknowledged.Where(id => !logged.Contains(id)).ToList();
            Assert.True(missing.Count == 0, $"{missing.Count} acknowledged exchanges are in no replica's log, e.g. {missing.FirstOrDefault()}");
        }
        finally
        {
            haproxy.Dispose();
            foreach (var replica in replicas)
            {
                await replica.DisposeAsync();
            }
        }
    }

    private sealed record Outcome(HttpStatusCode Status, string? ExchangeId, string Body, int Retries);

    /// <summary>
    /// What a department client does against a load-balanced node: a dropped connection or a 502/503
    /// (a replica going away) is retried, at most 8 times; any other answer is final.
    /// </summary>
    private static async Task<Outcome> Retry(Func<Task<HttpResponseMessage>> send, HttpStatusCode expected)
    {
        var retries = 0;
        while (true)
        {
            try
            {
                using var response = await send();
                var retryable = response.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable;
                if (!retryable || retries == 8)
                {
                    var id = response.Headers.TryGetValues(GovShareHeaders.ExchangeId, out var values) ? values.FirstOrDefault() : null;
                    var body = response.StatusCode == expected ? "" : await response.Content.ReadAsStringAsync();
                    return new Outcome(response.StatusCode, id, body, retries);
                }
            }
            catch (Exception ex) when ((ex is HttpRequestException or IOException or TaskCanceledException || ex.InnerException is IOException) && retries < 8)
            {
                // The connection was cut (a killed or draining replica): the exchange was not acknowledged.
            }

            retries++;
            await Task.Delay(200 * retries);
        }
    }

    private static async Task WaitForAsync(Func<bool> condition, Task[] load, CancellationToken stop)
    {
        while (!condition())
        {
            stop.ThrowIfCancellationRequested();
            if (load.All(t => t.IsCompleted))
            {
                // Surfaces an exception of the load, or says it hit its round cap.
                await Task.WhenAll(load);
                throw new InvalidOperationException($"the load ended (at most {MaxRoundsPerDepartment} rounds per department) before the restarts were done");
            }

            await Task.Delay(50, CancellationToken.None);
        }
    }

    /// <summary>One replica: its own data folder and ports, the shared database and dataset folder.</summary>
    /// <summary>
    /// What each running replica logged at level fail (the first three, eight lines each): a 500's
    /// exception is in the replica's output only, and the answer carries just its trace id.
    /// </summary>
    private static string Faults(IEnumerable<Replica> replicas)
    {
        var text = new System.Text.StringBuilder();
        foreach (var replica in replicas)
        {
            var lines = replica.Process?.Output.ToArray() ?? [];
            foreach (var at in Enumerable.Range(0, lines.Length).Where(i => lines[i].StartsWith("fail:", StringComparison.Ordinal)).Take(3))
            {
                text.Append('\n').Append(replica.Id).Append(": ").AppendJoin('\n', lines.Skip(at).Take(8));
            }
        }

        return text.ToString();
    }

    private sealed class Replica(TestPki pki, string id, string database, string datasets) : IAsyncDisposable
    {
        public string Id { get; } = id;

        public Dictionary<string, string?> Settings { get; } = Build(pki, id, database, datasets);

        public string DataPath => Settings["Node:DataPath"]!;

        public int ExchangePort => new Uri(Settings["Node:ExchangeUrl"]!).Port;

        public int ManagementPort => new Uri(Settings["Node:ManagementUrl"]!).Port;

        public NodeProcess? Process { get; private set; }

        public async Task StartAsync() => Process = await NodeProcess.StartAsync(Settings, ManagementPort);

        /// <summary>SIGTERM; fails the test unless it exits 0 (NodeProcess.DisposeAsync).</summary>
        public async Task StopAsync()
        {
            if (Process is { } running)
            {
                Process = null;
                await running.DisposeAsync();
            }
        }

        /// <summary>After a SIGKILL: the process is gone, and exit code 137 is expected, not a failure.</summary>
        public void ForgetKilled()
        {
            Process?.Process.Dispose();
            Process = null;
        }

        public async ValueTask DisposeAsync()
        {
            if (Process is { } running)
            {
                Process = null;
                if (!running.Process.HasExited)
                {
                    running.Process.Kill(entireProcessTree: true);
                    await running.Process.WaitForExitAsync();
                }

                running.Process.Dispose();
            }
        }

        private static Dictionary<string, string?> Build(TestPki pki, string id, string database, string datasets)
        {
            var settings = TestNode.DefaultSettings(pki, "530100");
            // The chart's layout: every replica's data folder under one replicas/ folder of the shared volume.
            settings["Node:DataPath"] = Path.Combine(pki.Root, "node", "replicas", id);
            settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{Loopback.FreePort()}";
            settings["Node:ManagementUrl"] = $"http://127.0.0.1:{Loopback.FreePort()}";
            // A short drain keeps the rolling restart quick; HAProxy stops sending within one check.
            settings["Node:DrainTimeout"] = "00:00:10";
            settings["State:Backend"] = "postgresql";
            settings["State:ConnectionString"] = database;
            settings["State:ReplicaId"] = id;
            settings["State:CatchUpInterval"] = "00:00:02";
            settings["Exchange:DatasetPath"] = datasets;
            return settings;
        }
    }

    /// <summary>HAProxy (Debian's package) in TCP mode on loopback, health-checking each replica's readiness.</summary>
    private sealed class Haproxy : IDisposable
    {
        private static readonly string[] Binaries = ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy"];
        private readonly Process _process;
        private bool _disposed;

        private Haproxy(Process process) => _process = process;

        public static Haproxy Start(string folder, int port, IEnumerable<Replica> replicas)
        {
            var binary = Binaries.FirstOrDefault(File.Exists)
                ?? throw new InvalidOperationException("haproxy not found: install Debian's 'haproxy' package (tests/run.sh does).");
            var config = Path.Combine(folder, "haproxy.cfg");
            File.WriteAllText(config, $"""
                global
                    maxconn 2000
                defaults
                    mode tcp
                    timeout connect 5s
                    timeout client 120s
                    timeout server 120s
                    # A connection refused by a replica going away is retried on another one.
                    retries 3
                    option redispatch
                frontend exchange
                    bind 127.0.0.1:{port}
                    default_backend replicas
                backend replicas
                    balance roundrobin
                    # Readiness, on each replica's management port: false from the start of a drain.
                    option httpchk GET /health/ready
                {string.Join('\n', replicas.Select(r => $"    server {r.Id} 127.0.0.1:{r.ExchangePort} check port {r.ManagementPort} inter 500 fall 1 rise 2"))}

                """);
            var start = new ProcessStartInfo(binary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "-f", config, "-db" })
            {
                start.ArgumentList.Add(argument);
            }

            var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("haproxy did not start");
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return new Haproxy(process);
        }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }

            _process.Dispose();
        }
    }
}

/// <summary>Runs the <c>govshare</c> binary with arguments; exit code and output.</summary>
internal static class GovShareProcessRunner
{
    public static async Task<(int ExitCode, string Output)> RunAsync(string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Loopback.GovShareDll());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("govshare did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
