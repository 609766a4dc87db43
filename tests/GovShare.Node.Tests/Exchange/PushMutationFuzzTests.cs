using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Exchange;

/// <summary>
/// Mutants of valid pushes against a real node: bit flips, int32 and length overwrites,
/// truncations, splices (the mutator of <see cref="SafeArrowReaderMutationTests"/>). No answer is
/// a 5xx, every accepted push pulls back whole in Arrow, JSON and CSV, and the node stays up.
/// Seeded; the seed is printed.
/// </summary>
public sealed class PushMutationFuzzTests(ITestOutputHelper output) : IAsyncLifetime
{
    // A longer campaign: GOVSHARE_FUZZ_MUTANTS=50000 GOVSHARE_FUZZ_SEED=9 dotnet test --filter PushMutationFuzz
    private static readonly int Mutants = int.TryParse(Environment.GetEnvironmentVariable("GOVSHARE_FUZZ_MUTANTS"), out var n) ? n : 2000;
    private static readonly int Seed = int.TryParse(Environment.GetEnvironmentVariable("GOVSHARE_FUZZ_SEED"), out var s) ? s : 20261204;

    private const string AllTypes = "101005/000001";

    private ExchangeFixture _f = null!;

    public async Task InitializeAsync()
    {
        _f = await ExchangeFixture.StartAsync();
        var entry = ExchangeFixture.Entry(AllTypes, _f.Provider, new ShareAttributes(ShareType.Unconditional)) with { Items = AllTypeItems };
        Assert.True(_f.Node.Services.GetRequiredService<CatalogStore>().Create(entry, Caller(_f.Provider)).Succeeded);
    }

    public async Task DisposeAsync() => await _f.DisposeAsync();

    private static readonly InformationItem[] AllTypeItems =
    [
        new("t", "文本", "utf8", 12),
        new("i", "整数", "int32"),
        new("l", "长整数", "int64", Nullable: false),
        new("f", "小数", "float64"),
        new("b", "是否", "boolean"),
        new("d", "日期", "date32"),
        new("ts", "时间", "timestamp"),
        new("m", "金额", "decimal128(18,2)"),
        new("x", "字节", "binary", 8),
    ];

    [Fact]
    public async Task Push_ThousandsOfMutantsOfValidStreams_No5xxNoAcceptedThenUnreadableVersionNodeUp()
    {
        output.WriteLine($"seed {Seed}, {Mutants} mutants (GOVSHARE_FUZZ_SEED, GOVSHARE_FUZZ_MUTANTS)");
        var targets = new (string Code, byte[] Stream)[]
        {
            (Unconditional, await StreamAsync(People(24, batchSize: 10))),
            (AllTypes, await StreamAsync([PushPullPropertyTests.Build(AllTypeItems, AllTypeRows(0, 6)), PushPullPropertyTests.Build(AllTypeItems, []), PushPullPropertyTests.Build(AllTypeItems, AllTypeRows(6, 5))])),
        };
        var random = new Random(Seed);
        var failures = new List<string>();
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        using var client = _f.Node.Client(_f.Provider.Certificate);
        var started = Stopwatch.GetTimestamp();
        for (var m = 0; m < Mutants && failures.Count < 20; m++)
        {
            var (code, valid) = targets[random.Next(targets.Length)];
            var (input, how) = SafeArrowReaderMutationTests.Mutate(random, [valid]);
            using var response = await client.PostAsync(DataPath(code), ArrowContent(input));
            var status = (int)response.StatusCode;
            string outcome;
            if (status >= 500)
            {
                outcome = "5xx";
                failures.Add($"#{m} {how} on {code}: {status} {await response.Content.ReadAsStringAsync()}");
            }
            else if (status == 200)
            {
                outcome = "accepted";
                var rows = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("rows").GetInt64();
                if (await UnreadableAsync(client, code, rows) is { } broken)
                {
                    failures.Add($"#{m} {how} on {code}: accepted ({rows} rows) but {broken}");
                }
            }
            else
            {
                var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
                outcome = problem.TryGetProperty("code", out var c) ? c.GetString()!
                    : problem.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Array && e.GetArrayLength() > 0 && e[0].ValueKind == JsonValueKind.Object ? "value:" + e[0].GetProperty("rule").GetString()
                    : $"{status}:{problem.GetProperty("type").GetString()![ProblemTypes.Prefix.Length..]}";
            }

            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }

        output.WriteLine($"{outcomes.Values.Sum()} mutants in {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s: {string.Join(", ", outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Key}={o.Value}"))}");
        Assert.True(failures.Count == 0, string.Join("\n", failures));

        // The node is up and serves a valid push and pull as before.
        foreach (var (code, valid) in targets)
        {
            using var push = await client.PostAsync(DataPath(code), ArrowContent(valid));
            Assert.Equal(HttpStatusCode.OK, push.StatusCode);
            var rows = (await push.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("rows").GetInt64();
            Assert.Null(await UnreadableAsync(client, code, rows));
        }

        // The run must have exercised both sides, or it proves little.
        Assert.True(outcomes.GetValueOrDefault("accepted") >= 10, "too few mutants were accepted");
        Assert.True(outcomes.Count >= 8, "too few distinct outcomes");
    }

    /// <summary>Null when the latest version pulls back whole in Arrow, JSON and CSV; else what went wrong.</summary>
    private static async Task<string?> UnreadableAsync(HttpClient client, string code, long rows)
    {
        try
        {
            using var arrow = await client.SendAsync(Pull(code, "fuzz"));
            if (arrow.StatusCode != HttpStatusCode.OK)
            {
                return $"the Arrow pull answered {(int)arrow.StatusCode}";
            }

            var (_, batches) = await ReadAsync(arrow);
            var arrowRows = batches.Sum(b => (long)b.Length);
            batches.ForEach(b => ArrowSamples.Touch(b));
            if (arrowRows != rows)
            {
                return $"the Arrow pull gave {arrowRows} rows";
            }

            using var json = await client.SendAsync(Pull(code, "fuzz", accept: "application/json"));
            var jsonRows = JsonDocument.Parse(await json.Content.ReadAsStringAsync()).RootElement.GetArrayLength();
            if (json.StatusCode != HttpStatusCode.OK || jsonRows != rows)
            {
                return $"the JSON pull answered {(int)json.StatusCode} with {jsonRows} rows";
            }

            using var csv = await client.SendAsync(Pull(code, "fuzz", accept: "text/csv"));
            var csvRows = PushPullPropertyTests.ParseCsv(await csv.Content.ReadAsStringAsync()).Count - 1;
            return csv.StatusCode != HttpStatusCode.OK || csvRows != rows ? $"the CSV pull answered {(int)csv.StatusCode} with {csvRows} rows" : null;
        }
#pragma warning disable CA1031 // Any failure to read an accepted version back is the finding.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return $"a pull failed: {ex.GetType().Name}: {ex.Message}";
        }
    }

    private static List<object?[]> AllTypeRows(int start, int count) =>
    [
        .. Enumerable.Range(start, count).Select(i => new object?[]
        {
            i % 4 == 1 ? null : "行" + i,
            i % 5 == 2 ? null : i * 7,
            (long)i << 33,
            i % 3 == 0 ? double.NaN : i * 1.25,
            i % 2 == 0,
            18000 + i,
            1_700_000_000_000_000L + i,
            (Int128)(i * 12345),
            i % 4 == 3 ? null : new byte[] { (byte)i, 2, 3 },
        }),
    ];
}
