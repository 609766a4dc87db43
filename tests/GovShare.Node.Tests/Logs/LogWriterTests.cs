using System.Text.Json;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Functional;

namespace GovShare.Node.Tests.Logs;

public sealed class LogWriterTests
{
    [Fact]
    public async Task AppendAsync_ConcurrentAppends_EachGetsOneSequenceAndChainVerifies()
    {
        using var folder = new LogFolder();
        long[] sequences;
        await using (var open = folder.Open(new LogOptions { CheckpointEvery = 100 }))
        {
            sequences = await Task.WhenAll(Enumerable.Range(0, 500).Select(i => open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i))));
        }

        Assert.Equal(500, sequences.Distinct().Count());
        var entries = folder.Store.ReadEntries(LogKind.Exchange).ToList();
        // 500 records, a checkpoint after every 100, none extra at close (the count was just met).
        Assert.Equal(505, entries.Count);
        Assert.Equal(Enumerable.Range(1, 505).Select(i => (long)i), entries.Select(e => e.Sequence));
        var byId = entries.Where(e => e.Type == LogEntryType.Record).ToDictionary(e => e.Record!.ExchangeId, e => e.Sequence);
        for (var i = 0; i < 500; i++)
        {
            Assert.Equal(sequences[i], byId[$"ex-{i:D6}"]);
        }

        var result = LogVerifier.VerifyStore(folder.Store, LogKind.Exchange, folder.Key);
        Assert.True(result.Ok, result.Message);
        Assert.Equal(500, result.RecordsChecked);
        Assert.Equal(5, result.CheckpointsChecked);
    }

    [SmallFileSystemFact]
    public async Task AppendAsync_DiskFillsUnderConcurrentAppends_EveryWaiterReleased_RefusedOnesNeverLogged_ThenResumes()
    {
        using var disk = SmallFileSystem.Mount(8L * 1024 * 1024);
        using var folder = new LogFolder(disk.Path);
        await using (var open = folder.Open())
        {
            Assert.Equal(1, await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(0)));
            disk.Fill("filler", leaveFree: 0);

            // Many waiters in each group: each is released, durable or refused; none waits for ever.
            // (A bound only to turn a lost waiter into a failure rather than a hung run.)
            var appends = Enumerable.Range(1, 300).Select(i => Task.Run(() => open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i)))).ToArray();
            var outcomes = await Task.WhenAll(appends.Select(async (append, i) =>
            {
                try
                {
                    return (Id: $"ex-{i + 1:D6}", Sequence: await append);
                }
                catch (LogUnavailableException)
                {
                    return (Id: $"ex-{i + 1:D6}", Sequence: -1L);
                }
            })).WaitAsync(TimeSpan.FromMinutes(5));
            var refused = outcomes.Where(o => o.Sequence < 0).Select(o => o.Id).ToHashSet();
            Assert.NotEmpty(refused);
            Assert.False(open.Writer.CanAppend(LogKind.Exchange));

            // Space again: the writer's probe brings the log back without a restart.
            File.Delete(Path.Combine(disk.Path, "filler"));
            var resumeBy = DateTime.UtcNow.AddMinutes(5);
            while (!open.Writer.CanAppend(LogKind.Exchange))
            {
                Assert.True(DateTime.UtcNow < resumeBy, "the log did not resume after space was freed");
                await Task.Delay(100);
            }

            var after = await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(1000));
            var records = folder.Store.ReadEntries(LogKind.Exchange).Where(e => e.Type == LogEntryType.Record).ToDictionary(e => e.Record!.ExchangeId, e => e.Sequence);
            Assert.DoesNotContain(refused, records.ContainsKey);
            Assert.All(outcomes.Where(o => o.Sequence > 0), o => Assert.Equal(o.Sequence, records[o.Id]));
            Assert.Equal(after, records["ex-001000"]);
        }

        var result = LogVerifier.VerifyStore(folder.Store, LogKind.Exchange, folder.Key);
        Assert.True(result.Ok, result.Message);
    }

    [Fact]
    public async Task AppendCopiedAsync_EntriesThatContinueTheChain_AreWrittenByteForByte_OthersAreRefusedWithNothingWritten()
    {
        // Another folder's chain (the same node and key): the source of the copies.
        using var source = new LogFolder();
        await using (var open = source.Open(new LogOptions { CheckpointEvery = 3 }))
        {
            for (var i = 0; i < 7; i++)
            {
                await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i));
            }
        }

        var chain = source.Store.ReadEntries(LogKind.Exchange).ToList();
        using var target = new LogFolder();
        await using (var open = target.Open())
        {
            // Not following the head (the target is empty: the copy must start at 1).
            await Assert.ThrowsAsync<InvalidDataException>(() => open.Writer.AppendCopiedAsync(LogKind.Exchange, chain.Skip(1).ToList()));
            // A gap inside the copy.
            await Assert.ThrowsAsync<InvalidDataException>(() => open.Writer.AppendCopiedAsync(LogKind.Exchange, [chain[0], chain[2]]));
            // An edited record (its hash no longer matches).
            var edited = chain[0] with { RecordJson = LogJson.Serialize(LogFolder.Exchange(99)) };
            await Assert.ThrowsAsync<InvalidDataException>(() => open.Writer.AppendCopiedAsync(LogKind.Exchange, [edited]));
            Assert.Equal(0, open.Writer.DurableSequence(LogKind.Exchange));

            Assert.Equal(chain[^1].Sequence, await open.Writer.AppendCopiedAsync(LogKind.Exchange, chain));
            // The writer goes on from the copied head.
            Assert.Equal(chain[^1].Sequence + 1, await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(100)));
        }

        var copied = target.Store.ReadEntries(LogKind.Exchange).Take(chain.Count).Select(e => Convert.ToHexString(e.Line.Span));
        Assert.Equal(chain.Select(e => Convert.ToHexString(e.Line.Span)), copied);
        // One chain: the copied part, then the target's own records (its checkpoints signed with its own key).
        var result = LogVerifier.VerifyStore(target.Store, LogKind.Exchange, publicKey: null);
        Assert.True(result.Ok, result.Message);
    }

    [Fact]
    public async Task Follow_EveryEntryMadeDurable_IsHeldByTheTimeItsAppendReturns_UntilTheFollowerIsDisposed()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open(new LogOptions { CheckpointEvery = 4 });
        await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(0));
        var follower = open.Writer.Follow(LogKind.Exchange);
        var other = open.Writer.Follow(LogKind.Exchange);

        var sequence = await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(1));
        var held = new List<(LogEntry Entry, LogPosition At)>();
        Assert.Equal(1, follower.Take(sequence, open.Writer.DurableSequence(LogKind.Exchange), 10, held));
        Assert.Equal("ex-000001", held[0].Entry.Record!.ExchangeId);

        // Records and the checkpoints between them, to every follower, in order; not another log's.
        await Task.WhenAll(Enumerable.Range(2, 9).Select(i => open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i))));
        await open.Writer.AppendAsync(LogKind.Query, LogFolder.Exchange(99) with { Kind = ExchangeKind.CatalogQuery });
        var top = open.Writer.DurableSequence(LogKind.Exchange);
        held.Clear();
        Assert.Equal((int)(top - sequence), follower.Take(sequence + 1, top, int.MaxValue, held));
        Assert.Equal(folder.Store.ReadEntries(LogKind.Exchange, sequence + 1, top).Select(e => e.Hash), held.Select(h => h.Entry.Hash));
        Assert.Contains(held, h => h.Entry.Type == LogEntryType.Checkpoint);
        Assert.Equal((int)(top - sequence) + 1, other.Count);

        follower.Dispose();
        await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(11));
        Assert.Equal(0, follower.Count);
        Assert.Equal((int)(open.Writer.DurableSequence(LogKind.Exchange) - sequence) + 1, other.Count);
        other.Dispose();
    }

    [Fact]
    public async Task Follow_HandsOverTheRecordItWasGiven_AsItsBytesReadBack_AndAChangeReadFromItsBytes()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open(new LogOptions { CheckpointEvery = 100 });
        var follower = open.Writer.Follow(LogKind.Exchange);
        var changes = open.Writer.Follow(LogKind.Change);

        // An exchange record: its readers get the very object appended, whose value is its bytes'.
        var record = LogFolder.Exchange(1) with { Items = ["a1", "a2"] };
        var sequence = await open.Writer.AppendAsync(LogKind.Exchange, record);
        var held = new List<(LogEntry Entry, LogPosition At)>();
        Assert.Equal(1, follower.Take(sequence, sequence, 10, held));
        var entry = held[0].Entry;
        Assert.Same(record.Items, entry.Record!.Items);
        Assert.Equal(entry.RecordJson.ToArray(), LogJson.Serialize(entry.Record));
        Assert.Equal(record with { Time = entry.Record.Time }, entry.Record);
        Assert.NotEqual(default, entry.Record.Time);

        // A change's diff belongs to its writer's document, which may be freed once appended: the
        // record readers get is read from the entry's bytes, and outlives that document.
        var diff = JsonDocument.Parse("""{"name":{"from":"a","to":"b"}}""");
        var change = LogFolder.Change(1) with { Diff = diff.RootElement };
        sequence = await open.Writer.AppendAsync(LogKind.Change, change);
        diff.Dispose();
        held.Clear();
        Assert.Equal(1, changes.Take(sequence, sequence, 10, held));
        Assert.NotSame(change, held[0].Entry.Record);
        Assert.Equal("b", held[0].Entry.Record!.Diff!.Value.GetProperty("name").GetProperty("to").GetString());
        follower.Dispose();
        changes.Dispose();
    }

    [Fact]
    public async Task Follow_WhenHeld_CompletesOnTheNextHandOver_AtOnceWhileEntriesAreHeld_AndOnDispose()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open();
        var follower = open.Writer.Follow(LogKind.Exchange);

        var waiting = follower.WhenHeld();
        Assert.False(waiting.IsCompleted);
        await open.Writer.AppendAsync(LogKind.Query, LogFolder.Exchange(1) with { Kind = ExchangeKind.CatalogQuery });
        Assert.False(waiting.IsCompleted); // another log's entry

        var sequence = await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(2));
        await waiting.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(follower.WhenHeld().IsCompleted);

        Assert.Equal(1, follower.Take(sequence, sequence, 10, []));
        var next = follower.WhenHeld();
        Assert.False(next.IsCompleted);
        follower.Dispose();
        await next.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(follower.WhenHeld().IsCompleted);
    }

    [Fact]
    public async Task Follow_WhenHeldAtLeast_WaitsForThatManyEntries_NotTheFirstHandOver()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open();
        var follower = open.Writer.Follow(LogKind.Exchange);

        var waiting = follower.WhenHeld(3);
        await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(1));
        await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(2));
        Assert.Equal(2, follower.Count);
        Assert.False(waiting.IsCompleted); // two hand-overs, two entries: fewer than asked
        Assert.False(follower.WhenHeld(3).IsCompleted);
        Assert.True(follower.WhenHeld(2).IsCompleted);

        // Two held answer a wait for two at once, without changing what the pending wait for three needs: the third entry completes it.
        var third = follower.WhenHeld(3);
        await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(3));
        await waiting.WaitAsync(TimeSpan.FromSeconds(60));
        await third.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(follower.WhenHeld(3).IsCompleted);
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = follower.WhenHeld(0); });
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = follower.WhenHeld(LogFollower.Capacity + 1); });
        follower.Dispose();
    }

    [Fact]
    public async Task AppendAsync_AfterReopen_ContinuesTheChain()
    {
        using var folder = new LogFolder();
        await using (var open = folder.Open())
        {
            await open.Writer.AppendAsync(LogKind.Change, LogFolder.Change(1));
        }

        long second;
        await using (var open = folder.Open())
        {
            second = await open.Writer.AppendAsync(LogKind.Change, LogFolder.Change(2));
        }

        // 1 record, its closing checkpoint (2), then the new record.
        Assert.Equal(3, second);
        var result = LogVerifier.VerifyStore(folder.Store, LogKind.Change, folder.Key);
        Assert.True(result.Ok, result.Message);
        Assert.Equal(2, result.RecordsChecked);
    }

    [Fact]
    public async Task AppendAsync_InvalidRecord_ReportsEveryErrorAndWritesNothing()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open();
        var bad = new LogRecord { ExchangeId = "", Caller = "", Kind = ExchangeKind.CatalogChange, Rows = -1, Status = 42 };

        var ex = await Assert.ThrowsAsync<LogRecordInvalidException>(() => open.Writer.AppendAsync(LogKind.Change, bad));

        Assert.Equal(6, ex.Errors.Count);
        Assert.Contains(ex.Errors, e => e.Contains("exchangeId", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("caller", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("rows", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("status", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("entity", StringComparison.Ordinal));
        Assert.Contains(ex.Errors, e => e.Contains("diff", StringComparison.Ordinal));
        Assert.Equal(0, open.Writer.DurableSequence(LogKind.Change));
    }

    [Fact]
    public void Constructor_RetentionBelowTenYears_IsRefused()
    {
        using var folder = new LogFolder();
        var ex = Assert.Throws<ArgumentException>(() => folder.Open(new LogOptions { RetentionYears = 9, SegmentBytes = 10 }));

        Assert.Contains("RetentionYears must be at least 10", ex.Message, StringComparison.Ordinal);
        Assert.Contains("SegmentBytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_SecondWriterOnSameFolder_IsRefused()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open();

        Assert.Throws<DataFolderInUseException>(() => folder.Open());
    }

    [Fact]
    public async Task AppendAsync_PastSegmentSize_ArchivesGzipSegmentsLinkedInIndex()
    {
        using var folder = new LogFolder();
        await using (var open = folder.Open(new LogOptions { SegmentBytes = 8192, CheckpointEvery = 50 }))
        {
            for (var i = 0; i < 30; i++)
            {
                await Task.WhenAll(Enumerable.Range(i * 10, 10).Select(n => open.Writer.AppendAsync(LogKind.Query, LogFolder.Exchange(n) with { Kind = ExchangeKind.CatalogQuery })));
            }

            await open.Writer.ArchivingCompleted(LogKind.Query);
        }

        var index = folder.Store.ArchiveIndex(LogKind.Query);
        Assert.True(index.Count >= 3, $"only {index.Count} archives");
        Assert.All(index, e => Assert.EndsWith(".jsonl.gz", e!.File, StringComparison.Ordinal));
        Assert.Single(folder.Store.Segments(LogKind.Query));
        var result = LogVerifier.VerifyStore(folder.Store, LogKind.Query, folder.Key);
        Assert.True(result.Ok, result.Message);
        Assert.Equal(300, result.RecordsChecked);
    }

    [Fact]
    public async Task ArchiveCompressionLevel_IsTheLevelClosedSegmentsAreCompressedAt_AndEveryLevelVerifies()
    {
        // The same records archived at level 1 and at level 6: both read back and verify, and the
        // level is the one set (zlib's level 1 leaves these lines clearly larger than level 6).
        long ArchivedBytes(LogFolder folder) =>
            folder.Store.ArchiveIndex(LogKind.Query).Sum(e => new FileInfo(System.IO.Path.Combine(folder.Store.FolderOf(LogKind.Query), LogStore.ArchiveFolder, e!.File)).Length);
        var sizes = new Dictionary<int, long>();
        foreach (var level in new[] { 1, 6 })
        {
            using var folder = new LogFolder();
            await using (var open = folder.Open(new LogOptions { SegmentBytes = 64 * 1024, CheckpointEvery = 50, ArchiveCompressionLevel = level }))
            {
                for (var i = 0; i < 40; i++)
                {
                    await Task.WhenAll(Enumerable.Range(i * 25, 25).Select(n => open.Writer.AppendAsync(LogKind.Query, LogFolder.Exchange(n) with { Kind = ExchangeKind.CatalogQuery })));
                }

                await open.Writer.ArchivingCompleted(LogKind.Query);
            }

            var result = LogVerifier.VerifyStore(folder.Store, LogKind.Query, folder.Key);
            Assert.True(result.Ok, result.Message);
            Assert.Equal(1000, result.RecordsChecked);
            Assert.True(folder.Store.ArchiveIndex(LogKind.Query).Count >= 3);
            sizes[level] = ArchivedBytes(folder);
        }

        Assert.True(sizes[1] > sizes[6] * 1.1, $"level 1 {sizes[1]} B, level 6 {sizes[6]} B");
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(1, true)]
    [InlineData(3, true)]
    [InlineData(9, true)]
    [InlineData(10, false)]
    [InlineData(-1, false)]
    public void ArchiveCompressionLevel_OutsideZlibsLevels_IsRefused(int level, bool valid)
    {
        var errors = new LogOptions { ArchiveCompressionLevel = level }.Validate();
        if (valid)
        {
            Assert.Empty(errors);
        }
        else
        {
            Assert.Contains(errors, e => e.Contains("Logs:ArchiveCompressionLevel must be from 1 to 9", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task CheckpointInterval_Elapsed_SignsCheckpointAtNextAppend()
    {
        using var folder = new LogFolder();
        var time = new ManualTime(DateTimeOffset.Parse("2026-01-05T08:00:00+08:00", System.Globalization.CultureInfo.InvariantCulture));
        await using (var open = folder.Open(new LogOptions { CheckpointInterval = TimeSpan.FromMinutes(5) }, time))
        {
            await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(1));
            time.Advance(TimeSpan.FromMinutes(6));
            var seq = await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(2));
            Assert.Equal(2, seq);
            Assert.Equal(3, open.Writer.DurableSequence(LogKind.Exchange));
        }

        var entries = folder.Store.ReadEntries(LogKind.Exchange).ToList();
        Assert.Equal(LogEntryType.Checkpoint, entries[2].Type);
        Assert.Equal(2, entries[2].Checkpoint!.SignedSequence);
    }

    /// <summary>
    /// The exact bytes of two known records and their chain, as the writer has always written them
    /// (fixed when the writer's serialisation and buffers were reworked): the first with its time
    /// left to the writer's clock, the second with its own time, non-ASCII text, a diff and every
    /// optional field. A change to any byte of a line or of the hash input breaks every verifier of
    /// the logs already written; this fails first.
    /// </summary>
    [Fact]
    public async Task AppendAsync_KnownRecords_ExactLinesAndHashes()
    {
        using var folder = new LogFolder();
        using var diff = JsonDocument.Parse("""{"sourceChangedAt":"2026-01-05T07:59:00+08:00","note":"昆明 \"民政\" <局>"}""");
        var time = new ManualTime(DateTimeOffset.Parse("2026-01-05T08:00:00.1234567+08:00", System.Globalization.CultureInfo.InvariantCulture));
        await using (var open = folder.Open(time: time))
        {
            Assert.Equal(1, await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(1)));
            Assert.Equal(2, await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.EveryField(diff.RootElement)));
        }

        var lines = File.ReadAllLines(folder.Store.Segments(LogKind.Exchange)[0].Path);
        Assert.Equal(PinnedFirst, lines[0]);
        Assert.Equal(PinnedSecond, lines[1]);
        var result = LogVerifier.VerifyStore(folder.Store, LogKind.Exchange, folder.Key);
        Assert.True(result.Ok, result.Message);
    }

    private const string PinnedFirst =
        """
        {"log":"exchange","node":"530100","seq":1,"type":"record","prev":"0000000000000000000000000000000000000000000000000000000000000000","record":{"exchangeId":"ex-000001","time":"2026-01-05T08:00:00.1234567+08:00","caller":"govshare:dept/530100/11530100MB0000001X","kind":"pull","resourceCode":"5301001000000001","provider":"11530100MB0000002X","items":["name","idNumber"],"purpose":"social-assistance","grantId":"grant-1","rows":11,"bytes":1001,"status":200,"durationMs":3,"hop":0},"hash":"da4b3157f34b22e1dc013d839aedecfd55d9c21727d885a3cfa6725654155365"}
        """;

    private const string PinnedSecond =
        """
        {"log":"exchange","node":"530100","seq":2,"type":"record","prev":"da4b3157f34b22e1dc013d839aedecfd55d9c21727d885a3cfa6725654155365","record":{"exchangeId":"20260105T000000Z-0123456789abcdef","time":"2026-01-05T00:00:01.005+00:00","caller":"govshare:node/530000","onBehalfOf":"govshare:dept/530100/11530100MB0000001X","kind":"push","resourceCode":"101001/000001","provider":"11530100MB0000002X","items":["\u59D3\u540D","id_number"],"purpose":"\u6700\u4F4E\u751F\u6D3B\u4FDD\u969C \u0026 \u003C\u5BA1\u6838\u003E","grantId":"grant-2","recipient":"11530100MB0000003X","rows":12000000,"bytes":1209100736,"mode":"merge","status":409,"problemType":"https://govshare.yn.gov.cn/problems/conflict","durationMs":6400,"hop":1,"diff":{"sourceChangedAt":"2026-01-05T07:59:00\u002B08:00","note":"\u6606\u660E \u0022\u6C11\u653F\u0022 \u003C\u5C40\u003E"}},"hash":"80f296b563e4b44264437d83accaf41c5f95ad210f228e7657f63612f6193c2b"}
        """;
}

/// <summary>A clock the test moves.</summary>
internal sealed class ManualTime(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
