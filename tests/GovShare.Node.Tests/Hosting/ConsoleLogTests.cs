using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;

namespace GovShare.Node.Tests.Hosting;

/// <summary>
/// What <c>govshare node run</c> writes to its console at the node's own defaults (issue 25: a
/// fuzzing session wrote a million lines): no line per request — neither the node's nor ASP.NET
/// Core's — but a summary of exchanges and refusals that adds up to what was done; and with
/// <c>Logging:Console:FormatterName=json</c>, every line one JSON object.
/// </summary>
public sealed partial class ConsoleLogTests : IDisposable
{
    private const int Pulls = 60;
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task NodeProcess_AtDefaultLevels_WritesNoLinePerRequest_AndASummaryThatAddsUp()
    {
        var (output, exchangeIds) = await RunAsync(json: false);

        var text = string.Join('\n', output);
        Assert.Contains("serving departments on", text, StringComparison.Ordinal);
        // Per-request lines: the node's own (each names its exchange id) and ASP.NET Core's.
        Assert.All(exchangeIds, id => Assert.DoesNotContain(id, text, StringComparison.Ordinal));
        Assert.DoesNotContain("Request starting", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Request finished", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Executing endpoint", text, StringComparison.Ordinal);
        Assert.DoesNotContain("CallerNotRegistered", text, StringComparison.Ordinal);
        // The console grows with time, not with requests: far fewer lines than requests were made.
        Assert.True(output.Count < Pulls, $"{output.Count} lines for {Pulls + 6} requests:\n{text}");

        // The summaries (periodic, and the rest at stop) add up to exactly what was done.
        var summaries = output.Select(l => SummaryLine().Match(l)).Where(m => m.Success).ToList();
        Assert.NotEmpty(summaries);
        Assert.Equal(1 + Pulls + 2, summaries.Sum(m => long.Parse(m.Groups["exchanges"].Value, CultureInfo.InvariantCulture)));
        Assert.Equal(2 + 3, summaries.Sum(m => long.Parse(m.Groups["refusals"].Value, CultureInfo.InvariantCulture)));
        Assert.Contains(summaries, m => m.Value.Contains("pull 200: ", StringComparison.Ordinal));
        Assert.Contains(output, l => l.Contains("purpose-required: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task NodeProcess_WithJsonConsole_WritesOneJsonObjectPerLine_SummaryInItsState()
    {
        var (output, exchangeIds) = await RunAsync(json: true);

        var entries = output.Select(line =>
        {
            try
            {
                return JsonDocument.Parse(line).RootElement.Clone();
            }
            catch (JsonException ex)
            {
                Assert.Fail($"not a JSON line: {line} ({ex.Message})");
                throw;
            }
        }).ToList();
        Assert.All(entries, e =>
        {
            Assert.Equal(JsonValueKind.Object, e.ValueKind);
            Assert.True(e.TryGetProperty("Timestamp", out var time) && DateTimeOffset.TryParse(time.GetString(), CultureInfo.InvariantCulture, out _), e.GetRawText());
            Assert.True(e.TryGetProperty("LogLevel", out _) && e.TryGetProperty("Category", out _) && e.TryGetProperty("Message", out _), e.GetRawText());
        });
        Assert.Contains(entries, e => e.GetProperty("EventId").GetInt32() == 2101 && e.GetProperty("Message").GetString()!.Contains("serving departments", StringComparison.Ordinal));
        Assert.All(exchangeIds, id => Assert.DoesNotContain(entries, e => e.GetRawText().Contains(id, StringComparison.Ordinal)));
        var summaries = entries.Where(e => e.GetProperty("EventId").GetInt32() == 2100).Select(e => e.GetProperty("State")).ToList();
        Assert.NotEmpty(summaries);
        Assert.Equal(1 + Pulls + 2, summaries.Sum(s => Number(s.GetProperty("Exchanges"))));
        Assert.Equal(2 + 3, summaries.Sum(s => Number(s.GetProperty("Refusals"))));
    }

    /// <summary>
    /// Runs a node at its own logging defaults (none of the tests' settings), makes one push,
    /// <see cref="Pulls"/> pulls, 2 pulls without a purpose (exchange steps refused) and 3 calls by an
    /// unregistered department (refused before any step); stops it and returns every line it wrote.
    /// </summary>
    private async Task<(List<string> Output, List<string> ExchangeIds)> RunAsync(bool json)
    {
        var settings = TestNode.DefaultSettings(_pki, "530100");
        foreach (var key in settings.Keys.Where(k => k.StartsWith("Logging:", StringComparison.Ordinal)).ToList())
        {
            settings.Remove(key);
        }

        var exchangePort = Loopback.FreePort();
        var managementPort = Loopback.FreePort();
        settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{exchangePort}";
        settings["Node:ManagementUrl"] = $"http://127.0.0.1:{managementPort}";
        settings["Logging:SummaryInterval"] = "00:00:05";
        if (json)
        {
            settings["Logging:Console:FormatterName"] = "json";
        }

        var provider = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
        var user = _pki.IssueDepartment(name: "Kunming Civil Affairs Bureau");
        var stranger = _pki.IssueDepartment(name: "A department never registered");
        var node = await NodeProcess.StartAsync(settings, managementPort);
        var exchangeIds = new List<string>();
        await using (node)
        {
            await node.RegisterAsync(settings["Node:DataPath"]!, provider, user);
            var address = new Uri($"https://localhost:{exchangePort}/");
            using var providerClient = TestNode.ClientFor(_pki, address, provider.Certificate);
            using var userClient = TestNode.ClientFor(_pki, address, user.Certificate);
            using var strangerClient = TestNode.ClientFor(_pki, address, stranger.Certificate);
            Assert.Equal(HttpStatusCode.Created, (await providerClient.PostAsJsonAsync("v1/catalog", ExchangeFixture.Entry(ExchangeFixture.Unconditional, provider, new ShareAttributes(ShareType.Unconditional)), CatalogJson.Options)).StatusCode);
            using (var pushed = await providerClient.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional), ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync(ExchangeFixture.People(5)))))
            {
                Assert.Equal(HttpStatusCode.OK, pushed.StatusCode);
                exchangeIds.Add(pushed.Headers.GetValues(GovShareHeaders.ExchangeId).Single());
            }

            for (var i = 0; i < Pulls + 2; i++)
            {
                using var pulled = await userClient.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, i < Pulls ? "console-log-test" : null));
                Assert.Equal(i < Pulls ? HttpStatusCode.OK : HttpStatusCode.BadRequest, pulled.StatusCode);
                exchangeIds.Add(pulled.Headers.GetValues(GovShareHeaders.ExchangeId).Single());
                await pulled.Content.ReadAsByteArrayAsync();
            }

            for (var i = 0; i < 3; i++)
            {
                using var refused = await strangerClient.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "console-log-test"));
                Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            }
        }

        // Stopped (SIGTERM, exit 0): the last summary was written at stop.
        return ([.. node.Output.Where(l => l.Length > 0)], exchangeIds);
    }

    private static long Number(JsonElement value) =>
        value.ValueKind == JsonValueKind.Number ? value.GetInt64() : long.Parse(value.GetString()!, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"Activity in the last \d+ s: (?<exchanges>\d+) exchanges \(.*\); \d+ bytes \(.*\); (?<refusals>\d+) refusals")]
    private static partial Regex SummaryLine();
}
