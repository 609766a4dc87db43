using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Deploy;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using GovShare.Node.Tests.Logs;

namespace GovShare.Node.Tests.Hosting;

/// <summary>
/// <c>/metrics</c> as Prometheus scrapes it, from a real <c>govshare node run</c> process: a push, a
/// pull and refusals move the counters by exactly what was done; the endpoint answers on the
/// management listener only — the exchange listener, which departments reach, does not know it.
/// </summary>
public sealed class MetricsTests : IDisposable
{
    private readonly TestPki _pki = new();
    private readonly KafkaMockCluster _kafka = new();

    public MetricsTests()
    {
        foreach (var log in Enum.GetValues<LogKind>())
        {
            _kafka.CreateTopic(KafkaOptions.Topic("530100", log), partitions: 3, replicationFactor: 3);
        }
    }

    public void Dispose()
    {
        _kafka.Dispose();
        _pki.Dispose();
    }

    [Fact]
    public async Task NodeProcess_PushPullAndRefusals_ScrapeCountsExactlyWhatWasDone()
    {
        var settings = TestNode.DefaultSettings(_pki, "530100");
        var exchangePort = Loopback.FreePort();
        var managementPort = Loopback.FreePort();
        settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{exchangePort}";
        settings["Node:ManagementUrl"] = $"http://127.0.0.1:{managementPort}";
        settings["Kafka:BootstrapServers"] = _kafka.BootstrapServers;
        settings["Kafka:MessageTimeoutMs"] = "3000";
        // A parent that never answers (nothing listens there): its link shows down, 0.
        settings["Upstream:ParentUrl"] = $"https://localhost:{Loopback.FreePort()}/";
        settings["Upstream:ParentDivisionCode"] = "530000";
        settings["Upstream:ParentKeySha256"] = _pki.NodeKey("530000");
        settings["Hierarchy:HealthInterval"] = "00:00:01";
        var provider = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
        var user = _pki.IssueDepartment(name: "Kunming Civil Affairs Bureau");
        var stranger = _pki.IssueDepartment(name: "A department never registered");
        await using var node = await NodeProcess.StartAsync(settings, managementPort);
        await node.RegisterAsync(settings["Node:DataPath"]!, provider, user);
        var address = new Uri($"https://localhost:{exchangePort}/");
        using var providerClient = TestNode.ClientFor(_pki, address, provider.Certificate);
        using var userClient = TestNode.ClientFor(_pki, address, user.Certificate);
        using var strangerClient = TestNode.ClientFor(_pki, address, stranger.Certificate);
        using var scraper = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}/"), Timeout = TimeSpan.FromSeconds(60) };
        var entry = ExchangeFixture.Entry(ExchangeFixture.Unconditional, provider, new ShareAttributes(ShareType.Unconditional));
        Assert.Equal(HttpStatusCode.Created, (await providerClient.PostAsJsonAsync("v1/catalog", entry, CatalogJson.Options)).StatusCode);

        var before = await ScrapeAsync(scraper);

        var body = await ExchangeFixture.StreamAsync(ExchangeFixture.People(7));
        using (var pushed = await providerClient.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional, "mode=replace"), ExchangeFixture.ArrowContent(body)))
        {
            Assert.Equal(HttpStatusCode.OK, pushed.StatusCode);
        }

        using (var pull = ExchangeFixture.Pull(ExchangeFixture.Unconditional, "metrics-test"))
        using (var pulled = await userClient.SendAsync(pull))
        {
            Assert.Equal(HttpStatusCode.OK, pulled.StatusCode);
            var (_, batches) = await ExchangeFixture.ReadAsync(pulled);
            Assert.Equal(7, batches.Sum(b => b.Length));
        }

        // Refusals: a push in an unknown mode (an exchange step, logged), and a caller the node does not know (refused before any step).
        var badMode = await ProblemTypeAsync(await providerClient.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional, "mode=sideways"), ExchangeFixture.ArrowContent(body)), HttpStatusCode.BadRequest);
        using var strangerPull = ExchangeFixture.Pull(ExchangeFixture.Unconditional, "metrics-test");
        var unknownCaller = await ProblemTypeAsync(await strangerClient.SendAsync(strangerPull), HttpStatusCode.Forbidden);
        Assert.NotEqual(badMode, unknownCaller);

        // Not on the exchange listener: departments (registered or not) never see the node's metrics.
        using (var viaExchange = await providerClient.GetAsync("metrics"))
        {
            Assert.Equal(HttpStatusCode.NotFound, viaExchange.StatusCode);
            Assert.DoesNotContain("govshare_", await viaExchange.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var after = await ScrapeAsync(scraper);
        double Delta(string name, params (string Label, string Value)[] labels) => after.Sum(name, labels) - before.Sum(name, labels);

        Assert.Equal(1, Delta("govshare_exchanges_total", ("govshare_exchange_kind", "push"), ("http_response_status_code", "200")));
        Assert.Equal(1, Delta("govshare_exchanges_total", ("govshare_exchange_kind", "pull"), ("http_response_status_code", "200")));
        Assert.Equal(1, Delta("govshare_exchanges_total", ("govshare_exchange_kind", "push"), ("http_response_status_code", "400")));
        Assert.Equal(3, Delta("govshare_exchanges_total"));
        Assert.Equal(7, Delta("govshare_exchange_rows_total", ("govshare_exchange_kind", "push")));
        Assert.Equal(7, Delta("govshare_exchange_rows_total", ("govshare_exchange_kind", "pull")));
        // The bytes are what the exchange log records for each step (Art. 28): the counters and the log agree.
        var logged = LogStore.ForDataFolder(settings["Node:DataPath"]!).ReadEntries(LogKind.Exchange).Select(e => e.Record).OfType<LogRecord>().Where(r => r.Status == 200).ToList();
        Assert.Equal(2, logged.Count);
        Assert.Equal(logged.Single(r => r.Kind == ExchangeKind.Push).Bytes, Delta("govshare_exchange_bytes_total", ("govshare_exchange_kind", "push")));
        Assert.Equal(logged.Single(r => r.Kind == ExchangeKind.Pull).Bytes, Delta("govshare_exchange_bytes_total", ("govshare_exchange_kind", "pull")));
        Assert.True(Delta("govshare_exchange_bytes_total", ("govshare_exchange_kind", "push")) > 0);
        Assert.True(Delta("govshare_exchange_bytes_total", ("govshare_exchange_kind", "pull")) > 0);

        Assert.Equal(2, Delta("govshare_exchange_duration_seconds_count", ("govshare_exchange_kind", "push")));
        Assert.Equal(1, Delta("govshare_exchange_duration_seconds_count", ("govshare_exchange_kind", "pull")));

        Assert.Equal(1, Delta("govshare_refusals_total", ("govshare_problem_type", badMode), ("govshare_listener", "exchange")));
        Assert.Equal(1, Delta("govshare_refusals_total", ("govshare_problem_type", unknownCaller), ("govshare_listener", "exchange")));
        // The exchange listener's 404 for /metrics is a refusal too.
        Assert.Equal(1, Delta("govshare_refusals_total", ("govshare_problem_type", ProblemTypes.NotFound), ("govshare_listener", "exchange")));
        Assert.Equal(3, Delta("govshare_refusals_total", ("govshare_listener", "exchange")));
        Assert.Equal(0, Delta("govshare_refusals_total", ("govshare_listener", "management")));

        // Every exchange step wrote one exchange-log record, each made durable by an fsync group.
        Assert.True(Delta("govshare_log_append_duration_seconds_count", ("govshare_log", "exchange")) >= 3);
        Assert.True(after.Sum("govshare_log_fsync_group_size_count", ("govshare_log", "exchange")) >= 1);
        Assert.True(after.Sum("govshare_log_sequence", ("govshare_log", "exchange")) >= 3);
        Assert.True(after.Sum("govshare_disk_free_bytes") > 0);
        Assert.Contains(after.Samples, s => s.Name == "govshare_trust_expiry_seconds");
        // The Kafka relay's lag is there for each log, and falls to 0 once the mock cluster confirmed everything.
        Assert.Equal(3, after.Samples.Count(x => x.Name == "govshare_log_kafka_lag"));
        var caughtUp = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while ((await ScrapeAsync(scraper)).Sum("govshare_log_kafka_lag") > 0)
        {
            Assert.True(DateTime.UtcNow < caughtUp, "the Kafka relay never caught up");
            await Task.Delay(200);
        }

        // The state snapshots of a LiteDB node are replaced in each commit: never behind.
        Assert.Equal(0, after.Sum("govshare_state_snapshot_age_seconds"));
        Assert.Single(after.Samples, s => s.Name == "govshare_state_snapshot_age_seconds");
        // The parent link, once probed, is down: nothing answers at its address.
        var probed = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (!after.Samples.Any(s => s.Name == "govshare_link_up"))
        {
            Assert.True(DateTime.UtcNow < probed, "the parent link was never probed");
            await Task.Delay(200);
            after = await ScrapeAsync(scraper);
        }

        var link = Assert.Single(after.Samples, s => s.Name == "govshare_link_up");
        Assert.Equal(0, link.Value);
        Assert.Equal("530000", link.Labels["govshare_link_division"]);
        Assert.Equal("parent", link.Labels["govshare_link_direction"]);

        // ASP.NET Core's own meters: the requests above, by route.
        Assert.Contains(after.Samples, s => s.Name == "http_server_request_duration_seconds_count" && s.Labels.GetValueOrDefault("http_route") == "/v1/resources/{code}/data");
        // The runtime's: bytes allocated so far (the load benchmark divides its growth by the pulls), grown by the requests above.
        Assert.True(Delta("dotnet_gc_heap_total_allocated_bytes_total") > 0);

        // The dashboard and the alert rules in deploy/monitoring read what the node really exports.
        AssertMonitoringMatches(after);
    }

    /// <summary>
    /// Every metric a query in deploy/monitoring names is in the scrape, and every label it groups
    /// or filters by is a label some exported series carries: a renamed instrument or tag breaks
    /// this test, not an operator's dashboard in silence.
    /// </summary>
    private static void AssertMonitoringMatches(Scrape scrape)
    {
        var folder = Path.Combine(RepositoryRoot.Path, "deploy", "monitoring");
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "govshare-dashboard.json")));
        var queries = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray().Select(t => t.GetProperty("expr").GetString()!))
            .Concat(dashboard.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray()
                .Where(v => v.GetProperty("type").GetString() == "query").Select(v => v.GetProperty("query").GetString()!))
            .ToList();
        var rules = YamlJson.Load(File.ReadAllText(Path.Combine(folder, "govshare-alerts.yaml")), "govshare-alerts.yaml");
        queries.AddRange(rules!["groups"]!.AsArray().SelectMany(g => g!["rules"]!.AsArray()).Select(r => (string)r!["expr"]!));
        Assert.True(queries.Count >= 15, $"only {queries.Count} queries found");

        var names = scrape.Samples.Select(x => x.Name).ToHashSet(StringComparer.Ordinal);
        var labels = scrape.Samples.SelectMany(x => x.Labels.Keys).Concat(["le", "job", "instance"]).ToHashSet(StringComparer.Ordinal);
        foreach (var query in queries)
        {
            var metrics = System.Text.RegularExpressions.Regex.Matches(System.Text.RegularExpressions.Regex.Replace(query, @"by \([^)]*\)|\{[^}]*\}", " "), @"\b(govshare_[a-z_]+|http_server_[a-z_]+)\b").Select(m => m.Value).ToList();
            Assert.NotEmpty(metrics);
            Assert.All(metrics, m => Assert.True(names.Contains(m), $"'{m}' in '{query}' is not exported"));
            var used = System.Text.RegularExpressions.Regex.Matches(query, @"by \(([^)]*)\)").SelectMany(m => m.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries))
                .Concat(System.Text.RegularExpressions.Regex.Matches(query, @"[{,]\s*([a-z_]+)\s*=~?").Select(m => m.Groups[1].Value));
            Assert.All(used, l => Assert.True(labels.Contains(l), $"label '{l}' in '{query}' is on no exported series"));
        }
    }

    private static async Task<string> ProblemTypeAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        using (response)
        {
            Assert.Equal(expected, response.StatusCode);
            Assert.Equal(MediaTypes.Problem, response.Content.Headers.ContentType?.MediaType);
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return problem.RootElement.GetProperty("type").GetString()!;
        }
    }

    internal static async Task<Scrape> ScrapeAsync(HttpClient scraper)
    {
        // No token, no certificate: as a cluster's Prometheus scrapes (deploy/README.md, "Metrics").
        using var response = await scraper.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        return Scrape.Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>A Prometheus text exposition, parsed as Prometheus reads it (comments skipped, labels unescaped).</summary>
    internal sealed record Scrape(IReadOnlyList<Sample> Samples)
    {
        /// <summary>The sum of the samples of a name whose labels include all of <paramref name="labels"/>; 0 when none (a counter not yet moved).</summary>
        public double Sum(string name, params (string Label, string Value)[] labels) =>
            Samples.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Label) == l.Value)).Sum(s => s.Value);

        public static Scrape Parse(string text)
        {
            var samples = new List<Sample>();
            foreach (var raw in text.Split('\n'))
            {
                var line = raw.Trim();
                if (line.Length == 0 || line[0] == '#')
                {
                    continue;
                }

                var labels = new Dictionary<string, string>(StringComparer.Ordinal);
                var nameEnd = line.IndexOfAny(['{', ' ']);
                var name = line[..nameEnd];
                var rest = nameEnd;
                if (line[nameEnd] == '{')
                {
                    rest = ParseLabels(line, nameEnd + 1, labels);
                }

                var value = line[rest..].Trim().Split(' ')[0];
                samples.Add(new Sample(name, labels, value switch
                {
                    "+Inf" => double.PositiveInfinity,
                    "-Inf" => double.NegativeInfinity,
                    _ => double.Parse(value, CultureInfo.InvariantCulture),
                }));
            }

            return new Scrape(samples);
        }

        private static int ParseLabels(string line, int at, Dictionary<string, string> labels)
        {
            while (line[at] != '}')
            {
                var eq = line.IndexOf('=', at);
                var label = line[at..eq].Trim(' ', ',');
                var value = new System.Text.StringBuilder();
                var i = eq + 2; // past ="
                for (; line[i] != '"'; i++)
                {
                    if (line[i] == '\\')
                    {
                        i++;
                        value.Append(line[i] switch { 'n' => '\n', var c => c });
                    }
                    else
                    {
                        value.Append(line[i]);
                    }
                }

                labels[label] = value.ToString();
                at = i + 1;
                if (line[at] == ',')
                {
                    at++;
                }
            }

            return at + 1;
        }
    }

    internal sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);
}
