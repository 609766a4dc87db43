using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Evaluation;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;

namespace GovShare.Benchmarks.Logs;

/// <summary>
/// <c>GET /v1/stats</c> and a year's annual report (every department's scorecard in it) over a long
/// exchange log, answered incrementally and by a full scan of the same log — outside
/// BenchmarkDotNet, because one full scan of 10 million records takes minutes here:
/// <c>dotnet run -c Release --project benchmarks/GovShare.Benchmarks -- history [records] [folder] [--no-full-scan]</c>
/// (<c>--no-full-scan</c>: leave out the two full scans, the longest cases, to measure only the aggregates; no ratios then).
/// The log is written once with the real <see cref="LogWriter"/> (hash chain, group commit,
/// 64 MiB segments gzip-archived as they close) into <c>folder</c> (default
/// <c>$TMPDIR/govshare-bench-history-&lt;records&gt;</c>) and reused by later runs (a <c>complete</c>
/// marker says it was written whole). Each figure: wall time (median of the runs given), bytes
/// allocated (<see cref="GC.GetTotalAllocatedBytes"/>), and the 1-minute load average when it ran.
/// A full scan runs once (what the node did per request before: read every record, compute).
/// </summary>
public static class HistoryRun
{
    private static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.FromHours(8));
    private static readonly TimeSpan Span = TimeSpan.FromDays(396);

    private static readonly string[] Departments = [.. Enumerable.Range(0, 60).Select(i => CreditCode.Complete($"11530100MB{i:D7}"))];

    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var fullScan = !args.Contains("--no-full-scan");
        args = [.. args.Where(a => a != "--no-full-scan")];
        var records = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10_000_000;
        var folder = args.Length > 2 ? args[2] : Path.Combine(Path.GetTempPath(), $"govshare-bench-history-{records}");
        RunAsync(records, folder, fullScan).GetAwaiter().GetResult();
        return 0;
    }

    private static async Task RunAsync(int count, string folder, bool fullScan)
    {
        var data = Path.Combine(folder, "data");
        var marker = Path.Combine(folder, "complete");
        var keyFile = Path.Combine(folder, "node.key");
        if (!File.Exists(marker))
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }

            Directory.CreateDirectory(folder);
            using var newKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            File.WriteAllText(keyFile, newKey.ExportECPrivateKeyPem());
            await GenerateAsync(count, data, newKey);
            File.WriteAllText(marker, count.ToString(CultureInfo.InvariantCulture));
        }

        foreach (var derived in Directory.EnumerateFiles(Path.Combine(data, "logs"), "*", SearchOption.AllDirectories)
            .Where(f => ChainAggregateFiles.IsDerived(Path.GetFileName(f))))
        {
            File.Delete(derived);
        }

        using var key = ECDsa.Create();
        key.ImportFromPem(File.ReadAllText(keyFile));
        using var node = NodeDataFolder.Open(data);
        await using var writer = new LogWriter(node, "530100", key, new LogOptions(), TimeProvider.System);
        var chains = new ReplicaChains(writer, null);
        var top = writer.DurableSequence(LogKind.Exchange);
        var onDisk = Directory.EnumerateFiles(Path.Combine(data, "logs", "exchange"), "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        Console.Error.WriteLine($"{Now()} log: {top:N0} entries, {onDisk / 1e6:N0} MB on disk (archives gzip'd)");

        var calculator = new ScorecardCalculator(WorkingDayCalendar.Load(), new EvaluationOptions());
        var reports = new AnnualReportBuilder(calculator);
        var catalog = Departments.Take(20).SelectMany((d, i) => Enumerable.Range(1, 3).Select(r => new CatalogEntry
        {
            ResourceCode = $"1010{i:D2}/{r:D6}",
            Name = $"Resource {i}-{r}",
            Provider = new DepartmentRef("530100", d, $"Department {i}"),
            Share = new ShareAttributes(ShareType.Unconditional),
            UpdateCycle = UpdateCycle.Monthly,
            Status = EntryStatus.Active,
            CreatedAt = Start.AddDays(-30),
            UpdatedAt = Start.AddDays(-30),
        })).ToList();
        var departments = Departments.Select((d, i) => new EvaluatedDepartment("530100", d, $"Department {i}", null)).ToList();
        EvaluationSnapshot Snapshot(ExchangeDigest digest) => new()
        {
            Node = "530100",
            Now = Start + Span,
            Digest = digest,
            CatalogChanges = [],
            Catalog = catalog,
            Requests = [],
            Disputes = [],
            RequestChanges = [],
            Departments = departments,
        };
        // The answer shown is a total; the check compares the whole answer: a SHA-256 of every row, of the whole report as rendered.
        long Report(ExchangeDigest digest)
        {
            var report = reports.Build(Snapshot(digest), 2025, []);
            fingerprint = Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(AnnualReportHtml.Render(report))));
            return report.Summary.Pulls.Exchanges;
        }

        long StatsRows(IReadOnlyList<ServiceStatistic> rows)
        {
            fingerprint = Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join("\n", rows))));
            return rows.Sum(r => r.Exchanges);
        }

        var rows = new List<(string Case, Measured Result, string Baseline)>();

        // What a request did before: read every record and compute (/v1/stats department × month, the widest question; the 2025 report).
        var full = !fullScan ? null : Measure("stats full scan", 1, () => StatsRows(LogStatistics.Compute(
            writer.Store.ReadEntries(LogKind.Exchange, 1, top).Where(e => e.Type == LogEntryType.Record).Select(e => e.Record!),
            StatisticsDimension.Department, StatisticsPeriod.Month, LogStatistics.ChinaStandardTime)));
        var fullReport = !fullScan ? null : Measure("report full scan", 1, () =>
        {
            var records = chains.ReadAll(LogKind.Exchange, top).Where(e => e.Type == LogEntryType.Record)
                .Select(e => new LoggedRecord(e.Node, LogKind.Exchange, e.Sequence, e.Record!, e.Replica)).ToList();
            return Report(ExchangeDigest.Scan(records));
        });
        if (full is not null && fullReport is not null)
        {
            rows.Add(("`/v1/stats` full scan (before)", full, "stats"));
            rows.Add(("annual report 2025, full scan (before)", fullReport, "report"));
            rows.Add(("both full scans (the two rows above)", new Measured(full.Median + fullReport.Median, full.Allocated + fullReport.Allocated, 1, full.Load, 0), "both"));
        }

        // The first start without saved files (after the upgrade): the warm-up folds the log once for both aggregates (one read, LogAggregates.CatchUp).
        var statistics = new ExchangeStatistics(chains);
        var index = new EvaluationIndex(chains);
        rows.Add(("first start: both rebuilt from the log with one read (once)", Measure("rebuild both, one read", 1, () => LogAggregates.CatchUp([statistics, index]).Sum()), "both"));
        // The heap the two aggregates hold (with the log's writer and the catalog of this process): their id tables are most of it.
        Console.Error.WriteLine($"{Now()} heap after the rebuild: {GC.GetTotalMemory(forceFullCollection: true) / 1e6:N1} MB");
        IEnumerable<string> Saved() => Directory.EnumerateFiles(Path.Combine(data, "logs"), "*", SearchOption.AllDirectories).Where(f => ChainAggregateFiles.IsDerived(Path.GetFileName(f)));
        Console.Error.WriteLine($"{Now()} saved: {string.Join(", ", Saved().Select(f => $"{Path.GetRelativePath(data, f)} {new FileInfo(f).Length / 1e6:N1} MB"))}");
        rows.Add(("`/v1/stats` incremental, nothing new", Measure("stats incremental", 7, () => StatsRows(statistics.Query(StatisticsDimension.Department, StatisticsPeriod.Month))), "stats"));
        Check(full, rows[^1].Result, "stats");

        // A date range: the day index reads the month's days only, not every bucket of the year. Its answer is the whole log's June rows.
        var (june, endOfJune) = (new DateOnly(2025, 6, 1), new DateOnly(2025, 6, 30));
        var juneRows = statistics.Query(StatisticsDimension.Department, StatisticsPeriod.Month).Where(r => r.PeriodStart == june).ToList();
        rows.Add(("`/v1/stats` one month (June 2025), incremental", Measure("stats one month", 7, () =>
        {
            var answer = statistics.Query(StatisticsDimension.Department, StatisticsPeriod.Month, june, endOfJune);
            return answer.SequenceEqual(juneRows) ? StatsRows(answer) : throw new InvalidOperationException("June differs from the whole log's June rows.");
        }), "stats"));
        rows.Add(("annual report incremental, nothing new", Measure("report incremental", 7, () => index.Read((digest, _, _) => Report(digest))), "report"));
        Check(fullReport, rows[^1].Result, "report");
        // Saved already: a fold of 10,000 entries or more saves at its end, so the rebuild above includes writing both files.
        statistics.Dispose();
        index.Dispose();
        rows.Add(("`/v1/stats` start from the saved file", Measure("stats start", 3, () =>
        {
            using var started = new ExchangeStatistics(chains);
            return StatsRows(started.Query(StatisticsDimension.Department, StatisticsPeriod.Month));
        }), "stats"));
        Check(full, rows[^1].Result, "stats");
        rows.Add(("annual report start from the saved file", Measure("report start", 3, () =>
        {
            using var started = new EvaluationIndex(chains);
            return started.Read((digest, _, _) => Report(digest));
        }), "report"));
        Check(fullReport, rows[^1].Result, "report");

        // What a periodic save costs (once a minute at most, after 10,000 entries, and at stop): the whole aggregate rewritten,
        // fsync'd, renamed. Each loaded from its file, with one new record folded (fewer than 10,000: not saved by the fold itself).
        var next = count;
        using (var saving = new ExchangeStatistics(chains))
        using (var savingIndex = new EvaluationIndex(chains))
        {
            await writer.AppendAsync(LogKind.Exchange, Record(next, next + 1) with { Time = Start + Span });
            next++;
            saving.Query(StatisticsDimension.Department, StatisticsPeriod.Month);
            savingIndex.Read((digest, _, _) => Report(digest));
            rows.Add(("`/v1/stats` aggregate saved (the file rewritten)", Measure("stats save", 1, () =>
            {
                saving.Save();
                return 0;
            }), "stats"));
            rows.Add(("evaluation aggregate saved (the file rewritten)", Measure("report save", 1, () =>
            {
                savingIndex.Save();
                return 0;
            }), "report"));
        }

        // Steady state: 1,000 new records appended since the last answer (read from where the last one ended).
        using var warmStats = new ExchangeStatistics(chains);
        using var warmIndex = new EvaluationIndex(chains);
        warmStats.Query(StatisticsDimension.Department, StatisticsPeriod.Month);
        warmIndex.Read((digest, _, _) => Report(digest));
        rows.Add(("`/v1/stats` after 1,000 new records", MeasureAfterAppends(writer, () => next += 1000, () => StatsRows(warmStats.Query(StatisticsDimension.Department, StatisticsPeriod.Month))), "stats"));
        rows.Add(("annual report after 1,000 new records", MeasureAfterAppends(writer, () => next += 1000, () => warmIndex.Read((digest, _, _) => Report(digest))), "report"));

        var saved = Saved();
        Console.WriteLine($"Exchange log: {top:N0} entries ({count:N0} generated records over {Span.TotalDays:N0} days, {Departments.Length} departments), {onDisk / 1e6:N0} MB on disk.");
        Console.WriteLine($"Saved aggregates: {string.Join(", ", saved.Select(f => $"{Path.GetRelativePath(data, f)} {new FileInfo(f).Length / 1e6:N1} MB"))}.");
        Console.WriteLine();
        Console.WriteLine("| Case | Mean | Ratio | Allocated | Runs | Load (1 min) |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var (name, result, baseline) in rows)
        {
            var ratio = fullScan
                ? string.Create(CultureInfo.InvariantCulture, $"{result.Median.TotalMilliseconds / rows.First(r => r.Baseline == baseline).Result.Median.TotalMilliseconds:0.00000}")
                : "—";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {Time(result.Median)} | {ratio} | {result.Allocated / 1e6:N1} MB | {result.Runs} | {result.Load} |"));
        }
    }

    private static async Task GenerateAsync(int count, string data, ECDsa key)
    {
        using var node = NodeDataFolder.Open(data);
        await using var writer = new LogWriter(node, "530100", key, new LogOptions(), TimeProvider.System);
        const int Batch = 8192;
        var watch = Stopwatch.StartNew();
        for (var done = 0; done < count; done += Batch)
        {
            await Task.WhenAll(Enumerable.Range(done, Math.Min(Batch, count - done)).Select(i => writer.AppendAsync(LogKind.Exchange, Record(i, count))));
            if (done / Batch % 64 == 0)
            {
                Console.Error.WriteLine($"{Now()} generated {done:N0} of {count:N0} ({watch.Elapsed.TotalSeconds:N0} s)");
            }
        }
    }

    /// <summary>
    /// Record <paramref name="i"/> of <paramref name="count"/>, spread evenly over <see cref="Span"/>: mostly pulls (a
    /// department of 60 pulling one of 60 resources of 20 providers), forwards, pushes, comparisons, refusals (no grant,
    /// purpose), and one in a hundred logging an exchange id of a few records before again.
    /// </summary>
    private static LogRecord Record(int i, int count)
    {
        var random = new Random(i);
        var roll = random.Next(100);
        var kind = roll switch
        {
            < 85 => ExchangeKind.Pull,
            < 90 => ExchangeKind.Forward,
            < 93 => ExchangeKind.Push,
            < 95 => ExchangeKind.Compare,
            _ => ExchangeKind.Pull,
        };
        var refused = roll >= 95;
        var provider = random.Next(20);
        var user = random.Next(60);
        return new LogRecord
        {
            ExchangeId = random.Next(100) == 0 && i > 10 && i - random.Next(1, 10) is var earlier ? NodeFormatId(earlier, RecordTime(earlier, count)) : NodeFormatId(i, RecordTime(i, count)),
            Time = RecordTime(i, count),
            Caller = kind == ExchangeKind.Push ? $"govshare:dept/530100/{Departments[provider]}" : $"govshare:dept/530100/{Departments[user]}",
            Kind = kind,
            ResourceCode = $"1010{provider:D2}/{random.Next(1, 4):D6}",
            Provider = Departments[provider],
            Items = ["id_number", "name"],
            Purpose = "social-assistance",
            Rows = random.Next(1, 1000),
            Bytes = random.Next(100, 100_000),
            Status = refused ? 403 : 200,
            ProblemType = refused ? (random.Next(4) == 0 ? GovShare.Contract.ProblemTypes.PurposeMismatch : GovShare.Contract.ProblemTypes.NoGrant) : null,
            DurationMs = 2,
        };
    }

    private static DateTimeOffset RecordTime(int i, int count) => Start + TimeSpan.FromTicks(Span.Ticks / count * i);

    /// <summary>
    /// The exchange id of record <paramref name="i"/> in the node's own format (<see cref="ExchangeId.New"/>: a ULID,
    /// <paramref name="time"/>'s millisecond then 80 random bits), the same text every time it is asked for, so that a
    /// record repeating an earlier one's id names exactly that id. The aggregates keep such ids as 128 bits (<c>RecentExchanges</c>);
    /// other texts go to a small bounded side table, so ids like <c>ex-42</c> would not measure what a node holds.
    /// </summary>
    internal static string NodeFormatId(int i, DateTimeOffset time)
    {
        const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        var random = new Random(~i);
        Span<byte> bits = stackalloc byte[10];
        random.NextBytes(bits);
        var high = ((ulong)time.ToUnixTimeMilliseconds() << 16) | BinaryPrimitives.ReadUInt16BigEndian(bits);
        var low = BinaryPrimitives.ReadUInt64BigEndian(bits[2..]);
        return string.Create(26, (high, low), static (chars, state) =>
        {
            var (h, l) = state;
            for (var c = chars.Length - 1; c >= 0; c--)
            {
                chars[c] = Alphabet[(int)(l & 31)];
                l = (l >> 5) | (h << 59);
                h >>= 5;
            }
        });
    }

    // The last answer's SHA-256 (see RunAsync's StatsRows and Report), kept with the measure for the check.
    private static string fingerprint = "";

    private sealed record Measured(TimeSpan Median, long Allocated, int Runs, string Load, long Answer, string Fingerprint = "");

    private static Measured Measure(string name, int runs, Func<long> run)
    {
        var times = new List<TimeSpan>();
        long allocated = 0, answer = 0;
        var load = ThreadCost.Load();
        for (var i = 0; i < runs; i++)
        {
            GC.Collect();
            var before = GC.GetTotalAllocatedBytes(precise: true);
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            answer = run();
            times.Add(watch.Elapsed);
            allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            // The process's CPU time beside the wall time: under load 50-100 the wall time is mostly waiting for a core.
            cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
            Console.Error.WriteLine($"{Now()} {name}: {Time(watch.Elapsed)}, {allocated / 1e6:N1} MB allocated, answer {answer:N0} (SHA-256 {fingerprint[..Math.Min(12, fingerprint.Length)]}), load {ThreadCost.Load()}, CPU {Time(cpu)}");
        }

        times.Sort();
        return new Measured(times[times.Count / 2], allocated, runs, load, answer, fingerprint);
    }

    private static Measured MeasureAfterAppends(LogWriter writer, Func<int> next, Func<long> run)
    {
        var times = new List<TimeSpan>();
        long allocated = 0, answer = 0;
        var load = ThreadCost.Load();
        for (var i = 0; i < 5; i++)
        {
            var from = next() - 1000;
            Task.WhenAll(Enumerable.Range(from, 1000).Select(n => writer.AppendAsync(LogKind.Exchange, Record(n, from + 1000) with { Time = Start + Span }))).GetAwaiter().GetResult();
            GC.Collect();
            var before = GC.GetTotalAllocatedBytes(precise: true);
            var watch = Stopwatch.StartNew();
            answer = run();
            times.Add(watch.Elapsed);
            allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        }

        times.Sort();
        Console.Error.WriteLine($"{Now()} after appends: {Time(times[2])}, answer {answer:N0}");
        return new Measured(times[2], allocated, 5, load, answer);
    }

    private static void Check(Measured? full, Measured incremental, string what)
    {
        if (full is not null && (full.Answer != incremental.Answer || full.Fingerprint != incremental.Fingerprint))
        {
            throw new InvalidOperationException($"{what}: the incremental answer ({incremental.Answer:N0}, SHA-256 {incremental.Fingerprint}) differs from the full scan's ({full.Answer:N0}, {full.Fingerprint}).");
        }
    }

    private static string Time(TimeSpan t) => t.TotalSeconds >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:N1} s")
        : string.Create(CultureInfo.InvariantCulture, $"{t.TotalMilliseconds:N1} ms");

    private static string Now() => DateTimeOffset.UtcNow.ToString("HH:mm:ss", CultureInfo.InvariantCulture);
}
