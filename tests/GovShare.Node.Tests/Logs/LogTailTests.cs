using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Evaluation;
using GovShare.Node.Logs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Logs;

/// <summary>
/// One reader of the exchange log's new entries for the statistics and the evaluation
/// (<see cref="LogTail"/>, <see cref="LogAggregates.CatchUp"/>), and requests during the
/// warm-up's first fold answered 503 instead of waiting on the lock (<see cref="FirstFold"/>).
/// </summary>
public sealed class LogTailTests
{
    [Fact]
    public async Task CatchUp_TwoSetsOfOneChain_ParsesEachEntryOnceAndFeedsBoth()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open(new LogOptions { CheckpointEvery = 10 });
        foreach (var i in Enumerable.Range(1, 60))
        {
            await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i));
        }

        var top = open.Writer.DurableSequence(LogKind.Exchange);
        var ahead = new RecordingSet(folder.Store, () => top, folded: 30);
        var behind = new RecordingSet(folder.Store, () => top, folded: 0);

        LogTail.CatchUp([ahead, behind]);

        // Each got exactly the entries it lacked, in order, none twice.
        Assert.Equal(Enumerable.Range(31, (int)top - 30).Select(i => (long)i), ahead.Offered.Select(e => e.Sequence));
        Assert.Equal(Enumerable.Range(1, (int)top).Select(i => (long)i), behind.Offered.Select(e => e.Sequence));
        // One read: the entries both needed are the same parsed objects, not a second parse of the same lines.
        var shared = behind.Offered.Skip(30).ToList();
        Assert.All(ahead.Offered.Zip(shared), pair => Assert.Same(pair.First, pair.Second));
        Assert.Equal(top, ahead.Next - 1);
        Assert.Equal(top, behind.Next - 1);
    }

    [Fact]
    public async Task CatchUp_StatisticsAndEvaluationTogether_BothUpToDateAndEqualToTheFullScan()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open(new LogOptions { CheckpointEvery = 25 });
        var time = new DateTimeOffset(2026, 4, 28, 9, 0, 0, TimeSpan.FromHours(8));
        foreach (var i in Enumerable.Range(1, 120))
        {
            await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i, i % 3 == 0 ? "R-a" : "R-b") with { Time = time.AddHours(i * 2) });
        }

        var chains = new ReplicaChains(open.Writer, null);
        using var statistics = new ExchangeStatistics(chains);
        using var index = new EvaluationIndex(chains);
        // The statistics ahead (a request folded them), the evaluation not read yet.
        statistics.Query(StatisticsDimension.Resource, StatisticsPeriod.Month);
        foreach (var i in Enumerable.Range(121, 40))
        {
            await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i, "R-a") with { Time = time.AddHours(i * 2) });
        }

        var folded = LogAggregates.CatchUp([statistics, index]);

        var top = open.Writer.DurableSequence(LogKind.Exchange);
        Assert.True(folded[0] > 0 && folded[0] < top, $"statistics folded {folded[0]} of {top}");
        Assert.True(folded[1] >= top, $"evaluation folded {folded[1]} of at least {top}");
        Assert.Equal(0, statistics.CatchUp(CancellationToken.None));
        Assert.Equal(0, index.CatchUp(CancellationToken.None));

        var records = folder.Store.ReadEntries(LogKind.Exchange, 1, top).Where(e => e.Type == LogEntryType.Record).ToList();
        var expected = LogStatistics.Compute(records.Select(e => e.Record!), StatisticsDimension.Resource, StatisticsPeriod.Day, LogStatistics.ChinaStandardTime);
        Assert.Equal(JsonSerializer.Serialize(expected), JsonSerializer.Serialize(statistics.Query(StatisticsDimension.Resource, StatisticsPeriod.Day)));
        var scan = ExchangeDigest.Scan([.. records.Select(e => new LoggedRecord(e.Node, LogKind.Exchange, e.Sequence, e.Record!, e.Replica))]);
        var first = new DateOnly(2026, 4, 1);
        var last = new DateOnly(2026, 6, 30);
        string? ByProvider(DateOnly day, ExchangeCell cell) => $"{day.Month}/{cell.Kind}/{cell.Provider}";
        Assert.Equal(
            JsonSerializer.Serialize(scan.Count(first, last, ByProvider).OrderBy(p => p.Key, StringComparer.Ordinal)),
            index.Read((digest, _, _) => JsonSerializer.Serialize(digest.Count(first, last, ByProvider).OrderBy(p => p.Key, StringComparer.Ordinal))));
        Assert.Equal(records.Count, index.Read((digest, _, _) => digest.Records));
    }

    [Fact]
    public async Task Stats_DuringTheFirstFold_503ProblemWithRetryAfter_ThenAnswered()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open();
        await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(1, "R-a"));
        var (app, client) = await StartAsync(open.Writer);
        await using var _ = app;
        using var __ = client;
        var statistics = app.Services.GetRequiredService<ExchangeStatistics>();

        // The warm-up began its first fold (no saved file: minutes at 10 million records); a request does not wait for it.
        statistics.FirstFold.Begin();
        statistics.FirstFold.Patience = TimeSpan.Zero;
        using var refused = await client.GetAsync(new Uri("/v1/stats", UriKind.Relative));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(MediaTypes.Problem, refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal(TimeSpan.FromSeconds(30), refused.Headers.RetryAfter?.Delta);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(ProblemTypes.AggregatesRebuilding, problem.GetProperty("type").GetString());
        Assert.Equal(503, problem.GetProperty("status").GetInt32());

        // Once it ended, the same request is answered from the aggregates.
        statistics.FirstFold.End();
        var answered = await client.GetFromJsonAsync<JsonElement>("/v1/stats");
        Assert.Equal("R-a", answered.GetProperty("rows")[0].GetProperty("key").GetString());
    }

    [Fact]
    public async Task FirstFold_ARequestWaitingForIt_IsAnsweredWhenItEnds()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open();
        await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(1, "R-a"));
        using var statistics = new ExchangeStatistics(open.Writer);
        statistics.FirstFold.Begin();
        statistics.FirstFold.Patience = Timeout.InfiniteTimeSpan;

        var waiting = Task.Run(() => statistics.Query(StatisticsDimension.Resource, StatisticsPeriod.Day));
        Assert.Equal(1, statistics.CatchUp(CancellationToken.None));
        statistics.FirstFold.End();

        Assert.Equal("R-a", Assert.Single(await waiting).Key);
    }

    [Fact]
    public async Task FirstFold_StoppedBeforeItEnded_ReleasesAWaitingRequestWithARefusal()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open();
        await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(1, "R-a"));
        using var statistics = new ExchangeStatistics(open.Writer);
        statistics.FirstFold.Begin();
        statistics.FirstFold.Patience = Timeout.InfiniteTimeSpan;

        // A request that waits for the fold must not hold the stop: the stop releases it with a refusal.
        var waiting = Task.Run(() => statistics.Query(StatisticsDimension.Resource, StatisticsPeriod.Day));
        statistics.FirstFold.Stop();

        await Assert.ThrowsAsync<AggregatesNotReadyException>(() => waiting);
        Assert.Throws<AggregatesNotReadyException>(() => statistics.Query(StatisticsDimension.Resource, StatisticsPeriod.Day));
        // A stop after the first fold ended changes nothing: requests fold the rest themselves.
        using var other = new ExchangeStatistics(open.Writer);
        other.FirstFold.Begin();
        other.FirstFold.End();
        other.FirstFold.Stop();
        Assert.Single(other.Query(StatisticsDimension.Resource, StatisticsPeriod.Day));
    }

    private static async Task<(WebApplication App, HttpClient Client)> StartAsync(LogWriter writer)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton(writer);
        builder.Services.AddSingleton<ExchangeStatistics>();
        builder.Services.AddProblemDetails();
        var app = builder.Build();
        app.Use(LogsApi.RefuseUntilFoldedAsync);
        app.MapLogsApi();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(120) });
    }

    /// <summary>An aggregate set of one chain that records the entries offered to it (the same objects when read once).</summary>
    private sealed class RecordingSet(LogStore store, Func<long> top, long folded) : ITailedAggregates, IChainFold
    {
        public List<LogEntry> Offered { get; } = [];

        public long Next { get; private set; } = folded + 1;

        public LogKind Log => LogKind.Exchange;

        public long Folded => Offered.Count;

        public LogStore Store => store;

        public bool Other => false;

        public long NextSequence => Next;

        public IReadOnlyList<IChainFold> Chains() => [this];

        public (long From, long To, LogPosition? Resume) Prepare() => (Next, top(), null);

        public void Offer(LogEntry entry, LogPosition at)
        {
            if (entry.Sequence == Next)
            {
                Offered.Add(entry);
                Next++;
            }
        }

        public void Done()
        {
        }
    }
}
