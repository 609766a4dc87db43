using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Evaluation;
using GovShare.Node.Identity;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Logs;

namespace GovShare.Node.Tests.Evaluation;

/// <summary>
/// The incremental evaluation figures (<see cref="EvaluationAggregate"/>, <see cref="EvaluationIndex"/>) must equal the
/// definition — the same figures computed from every record (<see cref="ExchangeDigest.Scan"/>) — for scorecards, annual
/// reports and violations, on generated logs (ids repeated across midnights, month and year ends; failures and refusals;
/// every kind), after a restart, after the saved file was torn, deleted or is another chain's, and over several replicas' chains.
/// </summary>
public sealed class EvaluationAggregateTests
{
    private static readonly string[] Departments =
        [.. new[] { "11530100MB0000001", "11530100MB0000002", "11530100MB0000003", "11530100MB0000004" }.Select(CreditCode.Complete)];

    private static readonly string[] Resources = ["101001/000001", "101001/000002", "101001/000003"];

    private static readonly ExchangeKind[] Kinds = [ExchangeKind.Push, ExchangeKind.Pull, ExchangeKind.Pull, ExchangeKind.Forward, ExchangeKind.Compare, ExchangeKind.CatalogQuery];

    private static readonly string?[] Problems = [ProblemTypes.PurposeMismatch, ProblemTypes.OnwardSharingNotConsented, ProblemTypes.NoGrant, ProblemTypes.ItemNotGranted, ProblemTypes.NoGrant, null];

    private static readonly ScorecardCalculator Calculator = new(WorkingDayCalendar.Load(), new EvaluationOptions());

    private static readonly int[] ReportYears = [2025, 2026];

    /// <summary>
    /// Records from October to March in roughly increasing time (month ends and a year end, China time), one in four
    /// repeating the id of one of the last 30 records (at most days earlier, often across a midnight), with other kinds,
    /// failures and refusals of every type a violation rests on, callers acting for others, node callers, missing providers.
    /// </summary>
    internal static List<LogRecord> Generate(int seed, int count, DateTimeOffset? start = null)
    {
        var random = new Random(seed);
        var records = new List<LogRecord>(count);
        var time = start ?? new DateTimeOffset(2025, 10, 1, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < count; i++)
        {
            time += TimeSpan.FromMinutes(random.Next(1, 240));
            var earlier = records.Count > 0 && random.Next(4) == 0 ? records[random.Next(Math.Max(0, records.Count - 30), records.Count)] : null;
            var kind = Kinds[random.Next(Kinds.Length)];
            var refused = random.Next(6) == 0;
            var problem = refused ? Problems[random.Next(Problems.Length)] ?? ProblemTypes.Forbidden : null;
            records.Add(new LogRecord
            {
                ExchangeId = earlier?.ExchangeId ?? StatisticsAggregateTests.AnExchangeId(random, seed, i),
                Time = time,
                Caller = random.Next(8) == 0 ? "govshare:node/530000" : $"govshare:dept/530100/{Departments[random.Next(Departments.Length)]}",
                OnBehalfOf = random.Next(5) == 0 ? $"govshare:dept/530100/{Departments[random.Next(Departments.Length)]}" : null,
                Kind = kind,
                ResourceCode = Resources[random.Next(Resources.Length)],
                Provider = random.Next(12) == 0 ? null : Departments[random.Next(Departments.Length)],
                Purpose = "social-assistance",
                Rows = random.Next(0, 1000),
                Bytes = random.Next(0, 100_000),
                Status = refused ? 403 : 200,
                ProblemType = problem,
                Diff = kind == ExchangeKind.Push && random.Next(3) == 0
                    ? JsonSerializer.SerializeToElement(new { sourceChangedAt = time - TimeSpan.FromDays(random.Next(0, 30)) })
                    : null,
            });
        }

        return records;
    }

    /// <summary>A hash chain of the records as a writer makes it (a checkpoint now and then), optionally a replica's.</summary>
    internal static List<LogEntry> Chain(IEnumerable<LogRecord> records, string? replica = null)
    {
        var entries = new List<LogEntry>();
        var previous = LogEntry.GenesisHash;
        foreach (var record in records)
        {
            var entry = LogEntry.Create(LogKind.Exchange, LogFolder.Node, entries.Count + 1, LogEntryType.Record, previous, LogJson.Serialize(record), replica);
            entries.Add(entry);
            previous = entry.Hash;
            if (entries.Count % 97 == 0)
            {
                var checkpoint = LogEntry.Create(LogKind.Exchange, LogFolder.Node, entries.Count + 1, LogEntryType.Checkpoint, previous, "{}"u8.ToArray(), replica);
                entries.Add(checkpoint);
                previous = checkpoint.Hash;
            }
        }

        return entries;
    }

    private static EvaluationAggregate Fold(IEnumerable<LogEntry> entries)
    {
        var aggregate = new EvaluationAggregate();
        foreach (var entry in entries)
        {
            aggregate.Fold(entry);
        }

        return aggregate;
    }

    /// <summary>The records of chains as the full snapshot reads them: one chain in sequence order, several in time order.</summary>
    private static List<LoggedRecord> Logged(List<List<LogEntry>> chains)
    {
        var records = chains.SelectMany(c => c)
            .Where(e => e.Type == LogEntryType.Record)
            .Select(e => new LoggedRecord(e.Node, LogKind.Exchange, e.Sequence, e.Record!, e.Replica))
            .ToList();
        return chains.Count > 1 ? [.. records.OrderBy(r => r.Record.Time).ThenBy(r => r.Replica, StringComparer.Ordinal).ThenBy(r => r.Sequence)] : records;
    }

    /// <summary>Every grouping the scorecards and the report use, and finer ones (each cell, each day and kind).</summary>
    private static IEnumerable<(string Name, Func<DateOnly, ExchangeCell, string?> Group)> Groupings()
    {
        yield return ("served", (_, c) => c.Kind == ExchangeKind.Pull && c.Provider is { } p && c.User != p ? p : null);
        yield return ("used", (_, c) => c.Kind is ExchangeKind.Pull or ExchangeKind.Forward && c.Provider != c.User ? c.User : null);
        yield return ("pushed", (_, c) => c.Kind == ExchangeKind.Push ? c.Provider : null);
        yield return ("pulls of one department", (_, c) => c.Kind is ExchangeKind.Pull or ExchangeKind.Forward && (c.Provider == Departments[1] || c.User == Departments[1]) ? "d" : null);
        yield return ("month", (d, c) => c.Kind != ExchangeKind.Push ? d.Month.ToString(System.Globalization.CultureInfo.InvariantCulture) : null);
        yield return ("everything", (_, _) => "all");
        yield return ("cell", (_, c) => $"{c.Kind}|{c.Provider}|{c.User}");
        yield return ("day and kind", (d, c) => $"{d}|{c.Kind}");
    }

    private static IEnumerable<(DateOnly From, DateOnly To)> Periods(IEnumerable<LoggedRecord> records, int seed)
    {
        yield return (new DateOnly(2017, 1, 1), new DateOnly(2030, 12, 31));
        yield return (new DateOnly(2025, 1, 1), new DateOnly(2025, 12, 31));
        yield return (new DateOnly(2026, 1, 1), new DateOnly(2026, 12, 31));
        yield return (new DateOnly(2025, 12, 31), new DateOnly(2026, 1, 1));
        var days = records.Select(r => WorkingDayCalendar.ToChinaDate(r.Record.Time)).Distinct().Order().ToList();
        var random = new Random(seed);
        for (var i = 0; i < 20; i++)
        {
            var a = days[random.Next(days.Count)];
            var b = days[random.Next(days.Count)];
            yield return a <= b ? (a, b) : (b, a);
        }
    }

    private static void AssertSameDigest(ExchangeDigest expected, ExchangeDigest actual, IReadOnlyList<LoggedRecord> records, int seed)
    {
        Assert.Equal(expected.Records, actual.Records);
        foreach (var (name, group) in Groupings())
        {
            foreach (var (from, to) in Periods(records, seed))
            {
                var want = expected.Count(from, to, group).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
                var got = actual.Count(from, to, group).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
                Assert.True(want.SequenceEqual(got), $"{name} {from}–{to}: expected {string.Join(", ", want)}, got {string.Join(", ", got)}");
            }
        }

        static string Address(LoggedRecord r) => $"{r.Replica}/{r.Sequence}";
        Assert.Equal(expected.Refusals.Select(Address), actual.Refusals.Select(Address));
        foreach (var resource in Resources)
        {
            Assert.Equal(expected.Pushes(resource).Select(Address), actual.Pushes(resource).Select(Address));
        }

        foreach (var id in records.Select(r => r.Record.ExchangeId).Distinct())
        {
            Assert.Equal(expected.FirstPush(id) is { } p ? Address(p) : null, actual.FirstPush(id) is { } q ? Address(q) : null);
            Assert.Equal(expected.FirstComparison(id) is { } c ? Address(c) : null, actual.FirstComparison(id) is { } d ? Address(d) : null);
        }
    }

    /// <summary>Scorecards, annual reports (jurisdiction and one department) and violations from either digest, as JSON.</summary>
    private static string Evaluate(ExchangeDigest digest)
    {
        var departments = Departments.Select((d, i) => new EvaluatedDepartment("530100", d, $"Department {i}", null)).ToList();
        var catalog = Resources.Select((code, i) => new CatalogEntry
        {
            ResourceCode = code,
            Name = $"Resource {i}",
            Provider = new DepartmentRef("530100", Departments[i], $"Department {i}"),
            Share = new ShareAttributes(i == 2 ? ShareType.Conditional : ShareType.Unconditional),
            UpdateCycle = i == 0 ? UpdateCycle.Daily : i == 1 ? UpdateCycle.Weekly : UpdateCycle.Monthly,
            Status = EntryStatus.Active,
            CreatedAt = new DateTimeOffset(2025, 9, 1, 2, 0, 0, TimeSpan.Zero),
            UpdatedAt = new DateTimeOffset(2025, 9, 1, 2, 0, 0, TimeSpan.Zero),
        }).ToList();
        var snapshot = new EvaluationSnapshot
        {
            Node = LogFolder.Node,
            Now = new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero),
            Digest = digest,
            CatalogChanges = [],
            Catalog = catalog,
            Requests = [],
            Disputes = [],
            RequestChanges = [],
            Departments = departments,
        };
        var reports = new AnnualReportBuilder(Calculator);
        var result = new
        {
            Cards = Calculator.Compute(snapshot, new EvaluationPeriod(new DateOnly(2025, 11, 15), new DateOnly(2026, 2, 10))),
            Card = Calculator.Compute(snapshot, EvaluationPeriod.Year(2025), Departments[2]),
            Reports = ReportYears.Select(y => reports.Build(snapshot, y, [])).ToList(),
            Department = reports.Build(snapshot, 2026, [], Departments[0]),
            Violations = new ViolationDetector(Calculator, new EvaluationOptions()).Detect(snapshot),
        };
        return JsonSerializer.Serialize(result);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Fold_GeneratedLog_EqualsTheDefinition(int seed)
    {
        var chain = Chain(Generate(seed, 2000));
        var records = Logged([chain]);
        var expected = ExchangeDigest.Scan(records);
        var actual = EvaluationAggregate.Digest([Fold(chain)]);

        AssertSameDigest(expected, actual, records, seed);
        var evaluated = Evaluate(expected);
        Assert.Equal(evaluated, Evaluate(actual));
        // The generated log does exercise every part: exchanges, freshness, refusals as violations.
        Assert.Contains("\"Kind\":", evaluated, StringComparison.Ordinal);
        Assert.True(expected.Refusals.Count > 10);
    }

    /// <summary>
    /// One pull after another of the same resource and provider (StatisticsAggregateTests.OnePullAfterAnother): the
    /// fold remembers each user's last cell and the last day, and must look again when the day, kind or provider
    /// changes (a record counted in the day before's cell would differ here).
    /// </summary>
    [Fact]
    public void Fold_OnePullAfterAnotherAcrossMidnights_EqualsTheDefinition()
    {
        var chain = Chain(StatisticsAggregateTests.OnePullAfterAnother(1500, new DateTimeOffset(2025, 12, 29, 0, 0, 0, TimeSpan.Zero)));
        var records = Logged([chain]);
        AssertSameDigest(ExchangeDigest.Scan(records), EvaluationAggregate.Digest([Fold(chain)]), records, seed: 1);
    }

    /// <summary>
    /// The aggregate parses each user's URI once and keeps at most 4,096 of them: past that bound the
    /// user's party is found by parsing per record. Both ways give the definition's digest.
    /// </summary>
    [Fact]
    public void Fold_MoreDistinctUsersThanTheParsedOnesKept_EqualsTheDefinition()
    {
        var chain = Chain(Generate(7, 9000).Select((r, i) => r with
        {
            Caller = (i % 7) switch
            {
                0 => "govshare:node/530000",
                1 => $"govshare:dept/530100/{CreditCode.Complete($"11530100MB{i % 300:D7}")}",
                _ => $"govshare:dept/530100/{CreditCode.Complete($"11530100MB{i:D7}")}",
            },
        }));
        var records = Logged([chain]);
        Assert.True(records.Select(r => r.Record.EffectiveUser).Distinct().Count() > 4096);
        var expected = ExchangeDigest.Scan(records);
        var actual = EvaluationAggregate.Digest([Fold(chain)]);

        AssertSameDigest(expected, actual, records, 7);
        Assert.Equal(Evaluate(expected), Evaluate(actual));
    }

    [Fact]
    public void Fold_SerializedAndLoadedHalfway_EqualsTheDefinition()
    {
        var chain = Chain(Generate(7, 1600));
        var first = Fold(chain.Take(chain.Count / 2));
        var loaded = EvaluationAggregate.TryLoad(first.Serialize());
        Assert.NotNull(loaded);
        Assert.Equal(first.Sequence, loaded.Sequence);
        Assert.Equal(first.Hash, loaded.Hash);
        foreach (var entry in chain.Skip(chain.Count / 2))
        {
            loaded.Fold(entry);
        }

        var records = Logged([chain]);
        AssertSameDigest(ExchangeDigest.Scan(records), EvaluationAggregate.Digest([loaded]), records, 7);
    }

    [Fact]
    public void Fold_EntryOutOfSequence_Refused()
    {
        var chain = Chain(Generate(8, 10));
        var aggregate = new EvaluationAggregate();
        aggregate.Fold(chain[0]);
        Assert.Throws<ArgumentException>(() => aggregate.Fold(chain[2]));
        Assert.Throws<ArgumentException>(() => aggregate.Fold(chain[0]));
    }

    [Fact]
    public void TryLoad_TornOrForeign_ReturnsNull()
    {
        var bytes = Fold(Chain(Generate(9, 300))).Serialize();
        Assert.Null(EvaluationAggregate.TryLoad(bytes.AsSpan(0, bytes.Length / 2)));
        Assert.Null(EvaluationAggregate.TryLoad("{\"version\":2}"u8));
        Assert.Null(EvaluationAggregate.TryLoad(new StatisticsAggregate(LogStatistics.ChinaStandardTime).Serialize()));
        // Another format version, bytes left over; and no changed byte throws (the file's checksum catches damage first).
        Assert.Null(EvaluationAggregate.TryLoad(GovShare.Node.Tests.Logs.StatisticsAggregateTests.WithVersion(bytes, 3)));
        Assert.Null(EvaluationAggregate.TryLoad([.. bytes, 0]));
        var random = new Random(9);
        for (var i = 0; i < 300; i++)
        {
            var changed = bytes.ToArray();
            changed[random.Next(changed.Length)] ^= (byte)random.Next(1, 256);
            _ = EvaluationAggregate.TryLoad(changed);
        }

        Assert.NotNull(EvaluationAggregate.TryLoad(bytes));
    }

    /// <summary>Several replicas' chains, each exchange id in one of them: their aggregates answered together equal the definition over all records.</summary>
    [Theory]
    [InlineData(21)]
    [InlineData(22)]
    public void Digest_OfSeveralReplicasChains_EqualsTheDefinitionOverAllRecords(int seed)
    {
        var chains = Generate(seed, 1800)
            .GroupBy(r => (r.ExchangeId.GetHashCode(StringComparison.Ordinal) & int.MaxValue) % 3)
            .OrderBy(g => g.Key)
            .Select(g => Chain(g, $"r{g.Key}"))
            .ToList();
        Assert.Equal(3, chains.Count);
        var records = Logged(chains);
        var expected = ExchangeDigest.Scan(records);
        var actual = EvaluationAggregate.Digest([.. chains.Select(Fold)]);

        AssertSameDigest(expected, actual, records, seed);
        Assert.Equal(Evaluate(expected), Evaluate(actual));
    }

    /// <summary>
    /// The journey of a node through the real writer: first start (built from the chain, saved at stop), restart (read
    /// from the file, only new records folded), torn, missing and another chain's file (each rebuilt) — the figures always
    /// those of a full read of the chain.
    /// </summary>
    [Fact]
    public async Task EvaluationIndex_AcrossRestartsAndDamagedFiles_EqualsTheDefinition()
    {
        using var folder = new LogFolder();
        var records = Generate(11, 1200);
        var path = Path.Combine(folder.Store.FolderOf(LogKind.Exchange), ChainAggregateFiles.Evaluation);

        async Task AppendAndCheck(IEnumerable<LogRecord> batch, Action<string>? damage, bool expectRebuild)
        {
            await using var open = folder.Open(new LogOptions { CheckpointEvery = 100 });
            damage?.Invoke(path);
            using var index = new EvaluationIndex(new ReplicaChains(open.Writer, null));
            foreach (var part in batch.Chunk(150))
            {
                await Task.WhenAll(part.Select(r => open.Writer.AppendAsync(LogKind.Exchange, r)));
                // Answer between appends, as requests do: each answer folds only what was appended since.
                var logged = folder.Store.ReadEntries(LogKind.Exchange, 1, open.Writer.DurableSequence(LogKind.Exchange))
                    .Where(e => e.Type == LogEntryType.Record)
                    .Select(e => new LoggedRecord(e.Node, LogKind.Exchange, e.Sequence, e.Record!, e.Replica)).ToList();
                var expected = ExchangeDigest.Scan(logged);
                index.Read((digest, _, _) =>
                {
                    AssertSameDigest(expected, digest, logged, 11);
                    Assert.Equal(Evaluate(expected), Evaluate(digest));
                    return 0;
                });
            }

            Assert.Equal(expectRebuild, index.Rebuilt);
            Assert.Equal(!expectRebuild, index.LoadedFromFile);
        }

        await AppendAndCheck(records.Take(300), null, expectRebuild: true);
        Assert.True(File.Exists(path));
        await AppendAndCheck(records.Skip(300).Take(300), null, expectRebuild: false);
        await AppendAndCheck(records.Skip(600).Take(150), p => File.WriteAllBytes(p, File.ReadAllBytes(p).AsSpan(0, 60).ToArray()), expectRebuild: true);
        await AppendAndCheck(records.Skip(750).Take(150), File.Delete, expectRebuild: true);

        using var other = new LogFolder();
        await using (var open = other.Open())
        {
            await Task.WhenAll(Generate(12, 1000).Select(r => open.Writer.AppendAsync(LogKind.Exchange, r)));
            using var index = new EvaluationIndex(new ReplicaChains(open.Writer, null));
            index.Read((_, _, _) => 0);
        }

        var foreign = Path.Combine(other.Store.FolderOf(LogKind.Exchange), ChainAggregateFiles.Evaluation);
        await AppendAndCheck(records.Skip(900), p => File.Copy(foreign, p, overwrite: true), expectRebuild: true);
    }

    /// <summary>
    /// A start reads the one entry the saved file names, not the chain from its beginning: with the first records of the
    /// segment overwritten (same length, so every later offset stands), the saved aggregate still loads and answers,
    /// while a read of the chain from its start fails. A file naming another place is rebuilt.
    /// </summary>
    [Fact]
    public async Task Load_ChecksOnlyTheSavedEntryWhereItBegins()
    {
        using var folder = new LogFolder();
        var records = Generate(13, 800);
        await using (var open = folder.Open())
        {
            await Task.WhenAll(records.Select(r => open.Writer.AppendAsync(LogKind.Exchange, r)));
        }

        var top = folder.Store.ReadEntries(LogKind.Exchange).Last().Sequence;
        var logged = folder.Store.ReadEntries(LogKind.Exchange).Where(e => e.Type == LogEntryType.Record)
            .Select(e => new LoggedRecord(e.Node, LogKind.Exchange, e.Sequence, e.Record!, e.Replica)).ToList();
        ChainAggregates<EvaluationAggregate> Open() => new(LogKind.Exchange, folder.Store, () => top, null, ChainAggregateFiles.Evaluation, "test",
            () => new EvaluationAggregate(), b => EvaluationAggregate.TryLoad(b.Span), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        using (var first = Open())
        {
            Assert.Equal(top, first.CatchUp()[0].Sequence);
            Assert.True(first.Rebuilt);
        }

        var segment = folder.Store.Segments(LogKind.Exchange)[0].Path;
        var bytes = File.ReadAllBytes(segment);
        var end = Array.IndexOf(bytes, (byte)'\n', Array.IndexOf(bytes, (byte)'\n') + 1);
        Array.Fill(bytes, (byte)'x', 0, end);
        File.WriteAllBytes(segment, bytes);
        Assert.Throws<InvalidDataException>(() => folder.Store.ReadEntries(LogKind.Exchange).Count());

        using (var second = Open())
        {
            var parts = second.CatchUp();
            Assert.False(second.Rebuilt);
            Assert.True(second.LoadedFromFile);
            AssertSameDigest(ExchangeDigest.Scan(logged), EvaluationAggregate.Digest(parts), logged, 13);
        }

        // The header names another place (one byte off): that is not the saved entry, so the file is not trusted.
        var saved = Path.Combine(folder.Store.FolderOf(LogKind.Exchange), ChainAggregateFiles.Evaluation);
        var text = File.ReadAllBytes(saved);
        var newline = Array.IndexOf(text, (byte)'\n');
        var header = System.Text.Encoding.ASCII.GetString(text, 0, newline).Split(' ');
        header[4] = (long.Parse(header[4], System.Globalization.CultureInfo.InvariantCulture) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        File.WriteAllBytes(saved, [.. System.Text.Encoding.ASCII.GetBytes(string.Join(' ', header)), .. text.AsSpan(newline)]);
        using var third = Open();
        Assert.Throws<InvalidDataException>(() => third.CatchUp());
        Assert.True(third.Rebuilt);
    }
}
