using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Evaluation;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Functional;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

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
    public async Task CatchUp_WithTheWritersHandOver_FoldsTheWritersOwnEntriesAtTheirPlace_AndReadsTheFileForWhatItDoesNotHold()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open(new LogOptions { CheckpointEvery = 10 });
        // Written before anyone followed: only the file has them.
        foreach (var i in Enumerable.Range(1, 15))
        {
            await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i));
        }

        var top = 0L;
        using var follower = open.Writer.Follow(LogKind.Exchange);
        var set = new RecordingSet(folder.Store, () => top, folded: 0) { Follower = follower };
        await Task.WhenAll(Enumerable.Range(16, 40).Select(i => open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i))));
        top = open.Writer.DurableSequence(LogKind.Exchange);
        var held = follower.Count;

        LogTail.CatchUp([set]);

        // Every entry once, in order: the first 15 (and their checkpoint) read from the file, the rest handed over.
        Assert.Equal(Enumerable.Range(1, (int)top).Select(i => (long)i), set.Offered.Select(e => e.Sequence));
        Assert.True(held >= 40, $"{held} held");
        Assert.Equal(0, follower.Count);
        // What was handed over is what the file holds, byte for byte and at the same place (the aggregates resume reading there).
        var stored = folder.Store.ReadEntriesAt(LogKind.Exchange).ToList();
        Assert.Equal(stored.Select(s => (s.Entry.Sequence, s.At, Convert.ToHexString(s.Entry.Line.Span))), set.Offered.Zip(set.At, (e, at) => (e.Sequence, at, Convert.ToHexString(e.Line.Span))));

        // A run that does not begin where the reader stands is not used: the file is read, and nothing is folded twice.
        foreach (var i in Enumerable.Range(56, 5))
        {
            await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i));
        }

        var skipped = new List<(LogEntry Entry, LogPosition At)>();
        Assert.Equal(1, follower.Take(top + 1, top + 1, 1, skipped));
        top = open.Writer.DurableSequence(LogKind.Exchange);
        LogTail.CatchUp([set]);
        Assert.Equal(Enumerable.Range(1, (int)top).Select(i => (long)i), set.Offered.Select(e => e.Sequence));
        Assert.Equal(0, follower.Count);
    }

    [Fact]
    public async Task Follower_FarBehind_DropsTheOldest_AndAReaderFoldsTheGapFromTheFile()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open(new LogOptions { CheckpointEvery = 1000 });
        using var follower = open.Writer.Follow(LogKind.Exchange);
        var top = 0L;
        var set = new RecordingSet(folder.Store, () => top, folded: 0) { Follower = follower };
        for (var i = 0; i < LogFollower.Capacity + 50; i += 500)
        {
            await Task.WhenAll(Enumerable.Range(i, 500).Select(n => open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(n))));
        }

        top = open.Writer.DurableSequence(LogKind.Exchange);
        Assert.Equal(LogFollower.Capacity, follower.Count);

        LogTail.CatchUp([set]);

        Assert.Equal(Enumerable.Range(1, (int)top).Select(i => (long)i), set.Offered.Select(e => e.Sequence));
        Assert.All(set.Offered.Where(e => e.Type == LogEntryType.Record), e => Assert.True(e.HashMatches));
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
        var logs = new ConcurrentQueue<string>();
        var (app, client) = await StartAsync(open.Writer, logs);
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
        // Written by the exception handler, which marks what it answers as not to be cached.
        Assert.True(refused.Headers.CacheControl is { NoCache: true, NoStore: true }, refused.Headers.ToString());
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(ProblemTypes.AggregatesRebuilding, problem.GetProperty("type").GetString());
        Assert.Equal(503, problem.GetProperty("status").GetInt32());
        // Answered by the exception handler's AggregatesNotReadyHandler: a refusal the node expects, not an error it logs.
        Assert.DoesNotContain(logs, line => line.StartsWith("Error", StringComparison.Ordinal) || line.StartsWith("Critical", StringComparison.Ordinal));

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

    private static async Task<(WebApplication App, HttpClient Client)> StartAsync(LogWriter writer, ConcurrentQueue<string>? logs = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        if (logs is not null)
        {
            builder.Logging.AddProvider(new CapturingLoggerProvider(logs));
        }

        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton(writer);
        builder.Services.AddSingleton<ExchangeStatistics>();
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<LogsApi.AggregatesNotReadyHandler>();
        var app = builder.Build();
        app.UseExceptionHandler();
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

        public LogFollower? Follower { get; init; }

        public long NextSequence => Next;

        public IReadOnlyList<IChainFold> Chains() => [this];

        public (long From, long To, LogPosition? Resume) Prepare() => (Next, top(), null);

        public List<LogPosition> At { get; } = [];

        public void Offer(LogEntry entry, LogPosition at)
        {
            if (entry.Sequence == Next)
            {
                Offered.Add(entry);
                At.Add(at);
                Next++;
            }
        }

        public void Done()
        {
        }
    }
}
