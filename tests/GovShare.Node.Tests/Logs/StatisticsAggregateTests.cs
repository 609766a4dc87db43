using GovShare.Node.Identity;
using GovShare.Node.Logs;

namespace GovShare.Node.Tests.Logs;

/// <summary>
/// The incremental statistics must equal a full scan of the same log (<see cref="LogStatistics.Compute"/>)
/// for every dimension, period and date range, also after a restart and after the persisted
/// aggregate was torn, deleted or belongs to another chain.
/// </summary>
public sealed class StatisticsAggregateTests
{
    private static readonly string[] Departments =
        [.. new[] { "11530100MB0000001", "11530100MB0000002", "11530100MB0000003", "11530100MB0000004" }.Select(CreditCode.Complete)];

    private static readonly string[] Resources = ["5301001000000001", "5301001000000002", "5301001000000003"];

    private static readonly ExchangeKind[] Kinds = [ExchangeKind.Push, ExchangeKind.Pull, ExchangeKind.Forward, ExchangeKind.Compare, ExchangeKind.CatalogQuery];

    /// <summary>
    /// Records around month ends in China Standard Time, in roughly increasing time, with exchange
    /// ids repeated a few hours later (retries across midnight and month ends), failures, non-data
    /// kinds, callers acting for others and node callers.
    /// </summary>
    private static List<LogRecord> Generate(int seed, int count, DateTimeOffset start)
    {
        var random = new Random(seed);
        var records = new List<LogRecord>(count);
        var time = start;
        for (var i = 0; i < count; i++)
        {
            time += TimeSpan.FromMinutes(random.Next(1, 180));
            var repeat = records.Count > 0 && random.Next(5) == 0;
            var earlier = repeat ? records[random.Next(Math.Max(0, records.Count - 8), records.Count)] : null;
            var caller = random.Next(6) == 0 ? "govshare:node/530000" : $"govshare:dept/530100/{Departments[random.Next(Departments.Length)]}";
            records.Add(new LogRecord
            {
                ExchangeId = earlier?.ExchangeId ?? AnExchangeId(random, seed, i),
                Time = time,
                Caller = caller,
                OnBehalfOf = random.Next(5) == 0 ? $"govshare:dept/530100/{Departments[random.Next(Departments.Length)]}" : null,
                Kind = Kinds[random.Next(Kinds.Length)],
                ResourceCode = random.Next(10) == 0 ? null : Resources[random.Next(Resources.Length)],
                Provider = random.Next(10) == 0 ? null : Departments[random.Next(Departments.Length)],
                Rows = random.Next(0, 1000),
                Bytes = random.Next(0, 100_000),
                Status = random.Next(8) == 0 ? 403 : 200,
            });
        }

        return records;
    }

    /// <summary>
    /// A new exchange id in one of the three forms the aggregates key differently (<see cref="RecentExchanges"/>):
    /// the node's own (26 upper-case ULID characters, kept as 128 bits, up to the top digit 7), its lower-case
    /// spelling (another id to an ordinal full scan, kept as text) and any other text (older logs).
    /// </summary>
    internal static string AnExchangeId(Random random, int seed, int i)
    {
        const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        var ulid = string.Create(26, random, static (chars, r) =>
        {
            chars[0] = (char)('0' + r.Next(8));
            for (var c = 1; c < chars.Length; c++)
            {
                chars[c] = Alphabet[r.Next(Alphabet.Length)];
            }
        });
        return (i % 3) switch
        {
            0 => ulid,
            1 => ulid.ToLowerInvariant(),
            _ => $"ex-{seed}-{i}",
        };
    }

    /// <summary>An in-memory hash chain of the records, as the writer would make it (checkpoints between).</summary>
    private static List<LogEntry> Chain(IEnumerable<LogRecord> records)
    {
        var entries = new List<LogEntry>();
        var previous = LogEntry.GenesisHash;
        foreach (var record in records)
        {
            var entry = LogEntry.Create(LogKind.Exchange, LogFolder.Node, entries.Count + 1, LogEntryType.Record, previous, LogJson.Serialize(record));
            entries.Add(entry);
            previous = entry.Hash;
        }

        return entries;
    }

    private static IEnumerable<(DateOnly? From, DateOnly? To)> Ranges(IReadOnlyList<LogRecord> records)
    {
        yield return (null, null);
        var days = records.Select(r => DateOnly.FromDateTime(r.Time.ToOffset(LogStatistics.ChinaStandardTime).DateTime)).Distinct().Order().ToList();
        var random = new Random(days.Count);
        for (var i = 0; i < 12; i++)
        {
            var a = days[random.Next(days.Count)];
            var b = days[random.Next(days.Count)];
            yield return a <= b ? (a, b) : (b, a);
            yield return (a, null);
            yield return (null, b);

            // Bounds between the days that have records (the day index searches for the first day in range).
            yield return (a.AddDays(1), null);
            yield return (null, b.AddDays(-1));
        }
    }

    private static void AssertSameAsFullScan(IReadOnlyList<LogRecord> records, Func<StatisticsDimension, StatisticsPeriod, DateOnly?, DateOnly?, IReadOnlyList<ServiceStatistic>> query)
    {
        foreach (var dimension in Enum.GetValues<StatisticsDimension>())
        {
            foreach (var period in Enum.GetValues<StatisticsPeriod>())
            {
                foreach (var (from, to) in Ranges(records))
                {
                    var expected = LogStatistics.Compute(records, dimension, period, LogStatistics.ChinaStandardTime, from, to);
                    Assert.Equal(expected, query(dimension, period, from, to));
                }
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Fold_GeneratedLog_EqualsFullScan(int seed)
    {
        var records = Generate(seed, 1500, new DateTimeOffset(2026, 1, 25, 0, 0, 0, TimeSpan.Zero));
        Assert.Contains(records.GroupBy(r => r.ExchangeId), g => g.Count() > 1);
        var aggregate = new StatisticsAggregate(LogStatistics.ChinaStandardTime);
        foreach (var entry in Chain(records))
        {
            aggregate.Fold(entry);
        }

        AssertSameAsFullScan(records, aggregate.Query);
    }

    /// <summary>
    /// Successful one-row pulls as the load benchmark makes them: one resource of one provider (another now and
    /// then, a caller now and then), a handful of callers in turn, a record every 7 minutes over China midnights and a month end, every
    /// ninth retrying the id of the third record before it (across a midnight now and then).
    /// </summary>
    internal static List<LogRecord> OnePullAfterAnother(int count, DateTimeOffset start)
    {
        var records = new List<LogRecord>(count);
        var random = new Random(count);
        for (var i = 0; i < count; i++)
        {
            records.Add(new LogRecord
            {
                ExchangeId = i % 9 == 8 ? records[i - 3].ExchangeId : AnExchangeId(random, 0, 3 * i),
                Time = start + TimeSpan.FromMinutes(7 * i),
                Caller = $"govshare:dept/530100/{Departments[1 + (i % 3)]}",
                Kind = ExchangeKind.Pull,
                ResourceCode = i % 50 == 49 ? Resources[1] : Resources[0],
                Provider = i % 40 == 39 ? Departments[1] : Departments[0],
                Rows = 1,
                Bytes = 180 + (i % 7),
                Status = 200,
            });
        }

        return records;
    }

    /// <summary>
    /// One pull after another of the same resource and provider (<see cref="OnePullAfterAnother"/>): the fold
    /// remembers the bucket each key of a record was counted at and the buckets each user was added to, and must
    /// look again when the day or the key changes (a record counted in the day before's bucket would differ here).
    /// </summary>
    [Fact]
    public void Fold_OnePullAfterAnotherAcrossMidnights_EqualsFullScan()
    {
        var records = OnePullAfterAnother(1500, new DateTimeOffset(2026, 1, 28, 0, 0, 0, TimeSpan.Zero));
        var aggregate = new StatisticsAggregate(LogStatistics.ChinaStandardTime);
        foreach (var entry in Chain(records))
        {
            aggregate.Fold(entry);
        }

        AssertSameAsFullScan(records, aggregate.Query);
    }

    /// <summary>
    /// The aggregate parses each user's URI once and keeps at most 4,096 of them: past that bound a
    /// user's key is parsed per record. Both ways give the full scan's rows (callers that are not
    /// departments, acting for others, and departments seen again before and after the bound included).
    /// </summary>
    [Fact]
    public void Fold_MoreDistinctUsersThanTheParsedOnesKept_EqualsFullScan()
    {
        var records = Generate(6, 9000, new DateTimeOffset(2026, 1, 25, 0, 0, 0, TimeSpan.Zero)).Select((r, i) => r with
        {
            Caller = (i % 7) switch
            {
                0 => $"not-a-uri-{i % 50}",
                1 => $"govshare:dept/530100/{CreditCode.Complete($"11530100MB{i % 300:D7}")}",
                _ => $"govshare:dept/530100/{CreditCode.Complete($"11530100MB{i:D7}")}",
            },
        }).ToList();
        Assert.True(records.Select(r => r.EffectiveUser).Distinct().Count() > 4096);
        var aggregate = new StatisticsAggregate(LogStatistics.ChinaStandardTime);
        foreach (var entry in Chain(records))
        {
            aggregate.Fold(entry);
        }

        AssertSameAsFullScan(records, aggregate.Query);
    }

    [Fact]
    public void Fold_SerializedAndLoadedHalfway_EqualsFullScan()
    {
        var records = Generate(7, 1200, new DateTimeOffset(2026, 2, 20, 0, 0, 0, TimeSpan.Zero));
        var chain = Chain(records);
        var first = new StatisticsAggregate(LogStatistics.ChinaStandardTime);
        foreach (var entry in chain.Take(600))
        {
            first.Fold(entry);
        }

        var loaded = StatisticsAggregate.TryLoad(first.Serialize(), LogStatistics.ChinaStandardTime);
        Assert.NotNull(loaded);
        Assert.Equal((600L, chain[599].Hash), (loaded.Sequence, loaded.Hash));
        foreach (var entry in chain.Skip(600))
        {
            loaded.Fold(entry);
        }

        AssertSameAsFullScan(records, loaded.Query);
    }

    [Fact]
    public void Fold_EntryOutOfSequence_Refused()
    {
        var chain = Chain(Generate(8, 3, DateTimeOffset.UnixEpoch));
        var aggregate = new StatisticsAggregate(LogStatistics.ChinaStandardTime);
        aggregate.Fold(chain[0]);

        Assert.Throws<ArgumentException>(() => aggregate.Fold(chain[2]));
    }

    [Fact]
    public void TryLoad_TornOrOtherOffset_ReturnsNull()
    {
        var aggregate = new StatisticsAggregate(LogStatistics.ChinaStandardTime);
        foreach (var entry in Chain(Generate(9, 50, DateTimeOffset.UnixEpoch)))
        {
            aggregate.Fold(entry);
        }

        var bytes = aggregate.Serialize();
        Assert.Null(StatisticsAggregate.TryLoad(bytes.AsSpan(0, bytes.Length / 2), LogStatistics.ChinaStandardTime));
        Assert.Null(StatisticsAggregate.TryLoad(bytes, TimeSpan.Zero));
        Assert.NotNull(StatisticsAggregate.TryLoad(bytes, LogStatistics.ChinaStandardTime));
    }

    /// <summary>
    /// The saved body is read only as what it says it is: another format version (a newer node's
    /// file after a downgrade), another aggregate's, bytes left over, or any byte changed never
    /// throws; it reads as null (the caller rebuilds) or as an aggregate.
    /// </summary>
    [Fact]
    public void TryLoad_OtherVersionOrChangedBytes_ReturnsNullAndNeverThrows()
    {
        var aggregate = new StatisticsAggregate(LogStatistics.ChinaStandardTime);
        foreach (var entry in Chain(Generate(10, 300, new DateTimeOffset(2026, 1, 25, 0, 0, 0, TimeSpan.Zero))))
        {
            aggregate.Fold(entry);
        }

        var bytes = aggregate.Serialize();
        Assert.NotNull(StatisticsAggregate.TryLoad(bytes, LogStatistics.ChinaStandardTime));
        Assert.Null(StatisticsAggregate.TryLoad(WithVersion(bytes, 3), LogStatistics.ChinaStandardTime));
        Assert.Null(StatisticsAggregate.TryLoad([.. bytes, 0], LogStatistics.ChinaStandardTime));
        Assert.Null(StatisticsAggregate.TryLoad(new GovShare.Node.Evaluation.EvaluationAggregate().Serialize(), LogStatistics.ChinaStandardTime));
        Assert.Null(StatisticsAggregate.TryLoad("{\"version\":1}"u8, LogStatistics.ChinaStandardTime));
        var random = new Random(10);
        for (var i = 0; i < 300; i++)
        {
            var changed = bytes.ToArray();
            changed[random.Next(changed.Length)] ^= (byte)random.Next(1, 256);
            _ = StatisticsAggregate.TryLoad(changed, LogStatistics.ChinaStandardTime);
        }
    }

    /// <summary>A saved body with its format version (the number after the tag) set to <paramref name="version"/>.</summary>
    internal static byte[] WithVersion(byte[] body, int version)
    {
        // The tag is the first string: its number (1), its length, its bytes; then the version, one byte while below 128.
        var at = 2 + body[1];
        Assert.Equal(2, body[at]);
        var changed = body.ToArray();
        changed[at] = (byte)version;
        return changed;
    }

    /// <summary>
    /// The saved file (format 2: header with the body's SHA-256, binary body) on a real chain: a byte
    /// changed anywhere in the body, a body of an unknown version (checksum right), or a format-1
    /// (JSON) file from before is rebuilt from the chain, saying why, and answers as the full scan; an
    /// intact file is loaded, not rebuilt.
    /// </summary>
    [Fact]
    public async Task SavedFile_DamagedOrOfAnotherVersion_IsRebuiltFromTheChain()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open(new LogOptions { CheckpointEvery = 100 });
        await Task.WhenAll(Generate(14, 500, new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero)).Select(r => open.Writer.AppendAsync(LogKind.Exchange, r)));
        var top = open.Writer.DurableSequence(LogKind.Exchange);
        var logged = folder.Store.ReadEntries(LogKind.Exchange, 1, top).Where(e => e.Type == LogEntryType.Record).Select(e => e.Record!).ToList();
        var path = Path.Combine(folder.Store.FolderOf(LogKind.Exchange), ExchangeStatistics.FileName);
        ChainAggregates<StatisticsAggregate> Open() => new(LogKind.Exchange, folder.Store, () => top, null, ExchangeStatistics.FileName, "test",
            () => new StatisticsAggregate(LogStatistics.ChinaStandardTime), b => StatisticsAggregate.TryLoad(b.Span, LogStatistics.ChinaStandardTime),
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        void Check(Action<byte[], int>? change, string? because)
        {
            if (change is not null)
            {
                var bytes = File.ReadAllBytes(path);
                change(bytes, Array.IndexOf(bytes, (byte)'\n') + 1);
            }

            using var chains = Open();
            var parts = chains.CatchUp();
            AssertSameAsFullScan(logged, (d, p, f, t) => StatisticsAggregate.Query(parts, d, p, f, t));
            Assert.Equal(because is not null, chains.Rebuilt);
            Assert.Equal(because is null, chains.LoadedFromFile);
            if (because is not null)
            {
                Assert.Contains(because, chains.RebuiltBecause, StringComparison.Ordinal);
            }
        }

        void Write(byte[] header, ReadOnlySpan<byte> body) => File.WriteAllBytes(path, [.. header, .. body]);
        byte[] Header(byte[] bytes, int body, string? checksumOf = null)
        {
            var header = System.Text.Encoding.ASCII.GetString(bytes, 0, body - 1).Split(' ');
            if (checksumOf is not null)
            {
                header[5] = checksumOf;
            }

            return System.Text.Encoding.ASCII.GetBytes(string.Join(' ', header) + "\n");
        }

        Check(null, "no saved file");
        Assert.StartsWith("govshare-aggregate/2 ", File.ReadLines(path).First(), StringComparison.Ordinal);
        Check(null, null);

        // One byte of the body changed (a bad sector, a partial copy): the checksum says so.
        Check((bytes, body) =>
        {
            bytes[body + ((bytes.Length - body) / 2)] ^= 0x20;
            File.WriteAllBytes(path, bytes);
        }, "checksum");
        Check(null, null);

        // A body of another version with a right checksum (a newer node's file after a downgrade).
        Check((bytes, body) =>
        {
            var other = WithVersion(bytes[body..], 3);
            Write(Header(bytes, body, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(other))), other);
        }, "unknown version");
        Check(null, null);

        // A file of format 1 (JSON, the header without a checksum), as the node before wrote it.
        Check((bytes, body) =>
        {
            var header = System.Text.Encoding.ASCII.GetString(bytes, 0, body - 1).Split(' ');
            File.WriteAllText(path, $"govshare-aggregate/1 {header[1]} {header[2]} {header[3]} {header[4]}\n{{\"version\":1}}\n");
        }, "format 1");
        Check(null, null);
    }

    /// <summary>
    /// The start-up fold (Logs/AggregateWarmup) cancelled by a stopping node leaves a whole
    /// aggregate: the next fold goes on and counts every entry once, and answers equal the full scan.
    /// </summary>
    [Fact]
    public async Task CatchUp_Cancelled_StopsAndTheNextFoldGoesOn()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open(new LogOptions { CheckpointEvery = 100 });
        await Task.WhenAll(Generate(13, 400, new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero)).Select(r => open.Writer.AppendAsync(LogKind.Exchange, r)));
        using var statistics = new ExchangeStatistics(open.Writer);
        using var stopping = new CancellationTokenSource();
        await stopping.CancelAsync();

        Assert.ThrowsAny<OperationCanceledException>(() => statistics.CatchUp(stopping.Token));
        Assert.Equal(open.Writer.DurableSequence(LogKind.Exchange), statistics.CatchUp(CancellationToken.None));
        Assert.Equal(0, statistics.CatchUp(CancellationToken.None));

        var logged = folder.Store.ReadEntries(LogKind.Exchange, 1, open.Writer.DurableSequence(LogKind.Exchange))
            .Where(e => e.Type == LogEntryType.Record).Select(e => e.Record!).ToList();
        Assert.Equal(400, logged.Count);
        AssertSameAsFullScan(logged, statistics.Query);
    }

    /// <summary>The journey of a node: append through the real writer, answer, stop, start, append more, answer.</summary>
    [Fact]
    public async Task ExchangeStatistics_AcrossRestartsAndDamagedFiles_EqualsFullScanOfTheChain()
    {
        using var folder = new LogFolder();
        var records = Generate(11, 900, new DateTimeOffset(2026, 3, 28, 0, 0, 0, TimeSpan.Zero));
        var path = Path.Combine(folder.Store.FolderOf(LogKind.Exchange), ExchangeStatistics.FileName);

        async Task<List<LogRecord>> AppendAndCheck(IEnumerable<LogRecord> batch, Action<string>? damage, bool expectRebuild)
        {
            await using var open = folder.Open(new LogOptions { CheckpointEvery = 100 });
            damage?.Invoke(path);
            using var statistics = new ExchangeStatistics(open.Writer);
            await Task.WhenAll(batch.Select(r => open.Writer.AppendAsync(LogKind.Exchange, r)));

            var logged = folder.Store.ReadEntries(LogKind.Exchange, 1, open.Writer.DurableSequence(LogKind.Exchange))
                .Where(e => e.Type == LogEntryType.Record).Select(e => e.Record!).ToList();
            AssertSameAsFullScan(logged, statistics.Query);
            Assert.Equal(expectRebuild, statistics.Rebuilt);
            return logged;
        }

        // First start: no file, built from the (empty) chain; saved at stop.
        await AppendAndCheck(records.Take(300), null, expectRebuild: true);
        Assert.True(File.Exists(path));

        // Restart: the file covers the chain up to its end; only the new records are folded.
        await AppendAndCheck(records.Skip(300).Take(200), null, expectRebuild: false);

        // Torn file (a crash in a copy, a full disk): rebuilt from the chain.
        await AppendAndCheck(records.Skip(500).Take(100), p => File.WriteAllBytes(p, File.ReadAllBytes(p).AsSpan(0, 40).ToArray()), expectRebuild: true);

        // Missing file.
        await AppendAndCheck(records.Skip(600).Take(100), File.Delete, expectRebuild: true);

        // A file of another chain (same sequence, other hash): rebuilt, never trusted.
        using (var other = new LogFolder())
        {
            await using (var open = other.Open())
            {
                await Task.WhenAll(Generate(12, 700, DateTimeOffset.UnixEpoch).Select(r => open.Writer.AppendAsync(LogKind.Exchange, r)));

                using var statistics = new ExchangeStatistics(open.Writer);
                statistics.Query(StatisticsDimension.Resource, StatisticsPeriod.Day);
            }

            var foreign = Path.Combine(other.Store.FolderOf(LogKind.Exchange), ExchangeStatistics.FileName);
            var logged = await AppendAndCheck(records.Skip(700), p => File.Copy(foreign, p, overwrite: true), expectRebuild: true);
            Assert.True(logged.Count >= 900);
        }
    }

    /// <summary>Several replicas' chains, each exchange id in one of them (one request is served by one replica): answered together they equal a full scan of all records.</summary>
    [Theory]
    [InlineData(21)]
    [InlineData(22)]
    [InlineData(23)]
    public void Query_OverSeveralReplicasChains_EqualsFullScanOfAllRecords(int seed)
    {
        var records = Generate(seed, 1500, new DateTimeOffset(2026, 4, 27, 0, 0, 0, TimeSpan.Zero));
        var parts = records.GroupBy(r => (r.ExchangeId.GetHashCode(StringComparison.Ordinal) & int.MaxValue) % 3).Select(chain =>
        {
            var aggregate = new StatisticsAggregate(LogStatistics.ChinaStandardTime);
            foreach (var entry in Chain(chain))
            {
                aggregate.Fold(entry);
            }

            return aggregate;
        }).ToList();
        Assert.Equal(3, parts.Count);

        AssertSameAsFullScan(records, (dimension, period, from, to) => StatisticsAggregate.Query(parts, dimension, period, from, to));
    }

    /// <summary>
    /// Two replicas' data folders side by side (replicas/r1, replicas/r2): r1 answers for both chains,
    /// follows r2's new records, and after a restart reads its saved aggregate of r2's chain
    /// (<c>statistics.r2</c> in its own folder, r2's folder untouched) instead of re-reading r2's chain.
    /// </summary>
    [Fact]
    public async Task ExchangeStatistics_OfSeveralReplicas_CountsEveryReplicasChain()
    {
        var shared = Path.Combine(Path.GetTempPath(), "govshare-replicas-" + Guid.NewGuid().ToString("N"));
        var r1Path = Path.Combine(shared, "replicas", "r1");
        var r2Path = Path.Combine(shared, "replicas", "r2");
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var records = Generate(31, 600, new DateTimeOffset(2026, 5, 28, 0, 0, 0, TimeSpan.Zero));
        var state = new GovShare.Node.Kernel.StateOptions { Backend = "postgresql", ConnectionString = "Host=unused" };
        var replicas = ReplicaChains.ReplicasFolder(new LogOptions(), state, r1Path);
        Assert.Equal(Path.Combine(shared, "replicas"), replicas);
        Assert.Null(ReplicaChains.ReplicasFolder(new LogOptions(), new GovShare.Node.Kernel.StateOptions(), r1Path));

        async Task<List<LogRecord>> Append(string path, string replica, IEnumerable<LogRecord> batch)
        {
            using var folder = GovShare.Node.Kernel.NodeDataFolder.Open(path);
            await using var writer = new LogWriter(folder, LogFolder.Node, key, new LogOptions(), TimeProvider.System, replica: replica);
            await Task.WhenAll(batch.Select(r => writer.AppendAsync(LogKind.Exchange, r)));
            return [.. batch];
        }

        try
        {
            var byReplica = records.GroupBy(r => (r.ExchangeId.GetHashCode(StringComparison.Ordinal) & 1) == 0).ToDictionary(g => g.Key, g => g.ToList());
            await Append(r2Path, "r2", byReplica[true].Take(200));
            using (var folder = GovShare.Node.Kernel.NodeDataFolder.Open(r1Path))
            {
                await using var writer = new LogWriter(folder, LogFolder.Node, key, new LogOptions(), TimeProvider.System, replica: "r1");
                await Task.WhenAll(byReplica[false].Select(r => writer.AppendAsync(LogKind.Exchange, r)));
                using var statistics = new ExchangeStatistics(new ReplicaChains(writer, replicas));
                AssertSameAsFullScan([.. byReplica[false], .. byReplica[true].Take(200)], statistics.Query);

                // r2 serves more while r1 runs: the next answer counts them.
                await Append(r2Path, "r2", byReplica[true].Skip(200));
                AssertSameAsFullScan(records, statistics.Query);
            }

            var saved = Path.Combine(r1Path, "logs", "exchange", ExchangeStatistics.FileName + ".r2");
            Assert.True(File.Exists(saved));
            Assert.False(File.Exists(Path.Combine(r2Path, "logs", "exchange", ExchangeStatistics.FileName + ".r1")));
            using (var folder = GovShare.Node.Kernel.NodeDataFolder.Open(r1Path))
            {
                await using var writer = new LogWriter(folder, LogFolder.Node, key, new LogOptions(), TimeProvider.System, replica: "r1");
                using var statistics = new ExchangeStatistics(new ReplicaChains(writer, replicas));
                AssertSameAsFullScan(records, statistics.Query);
                Assert.False(statistics.Rebuilt);
            }
        }
        finally
        {
            Directory.Delete(shared, recursive: true);
        }
    }
}
