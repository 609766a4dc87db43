using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using Apache.Arrow.Ipc;
using Confluent.Kafka;
using GovShare.LoadBenchmark.Servers;
using GovShare.Node.Identity;
using GovShare.Node.Logs;
using GovShare.Node.Pki;
using GovShare.Node.Tests.Logs;

namespace GovShare.LoadBenchmark.Driver;

/// <summary>
/// The load benchmark: a development PKI, a Kunming node (530100) and its province (530000) as
/// child processes, the raw Kestrel and YARP baselines as child processes, a Kafka mock cluster,
/// then each case against its baseline in alternating rounds, medians compared.
/// </summary>
internal sealed partial class LoadRun
{
    private const string Kunming = "530100";
    private const string Province = "530000";
    private const string LargeCode = "101001/000101";
    private const string PushCode = "101001/000102";
    private const string SmallCode = "101001/000103";
    private const string TextCode = "101001/000104";
    private const string ForwardedCode = "101001/000105";

    private readonly Sizes _sizes;
    private readonly bool _smoke;
    private readonly string _work;
    private readonly string _files;
    private readonly List<CaseResult> _cases = [];
    private readonly List<string> _notes = [];
    private readonly Dictionary<string, double> _sizeFigures = [];
    private PkiFolder _pki = null!;
    private X509Certificate2Collection _roots = null!;
    private Dept _provider = null!;
    private Dept _user = null!;
    private Dept _provinceUser = null!;
    private long _kunmingExchanges;

    /// <summary>The Kunming node's management listener (its <c>/metrics</c>: the exchange log's group sizes).</summary>
    private readonly int _kunmingManagementPort = FreePort();
    private readonly HashSet<string>? _only;

    /// <summary><c>--inline-scheduling</c>: Node:InlineScheduling for the nodes, UnsafePreferInlineScheduling for the baselines.</summary>
    private static bool s_inlineScheduling;
    private int _recordBytes;

    private LoadRun(Sizes sizes, bool smoke, string work, HashSet<string>? only)
    {
        _sizes = sizes;
        _smoke = smoke;
        _work = work;
        _only = only;
        _files = Directory.CreateDirectory(Path.Combine(work, "files")).FullName;
    }

    public static async Task<int> MainAsync(string[] args)
    {
        var smoke = args.Contains("--smoke");
        var output = Option(args, "--out") ?? Path.GetFullPath(smoke ? "load-smoke.json" : "load-results.json");
        // Absolute: the children run in folders of their own and are handed paths inside this one.
        var work = Path.GetFullPath(Option(args, "--work") ?? Path.Combine(Path.GetTempPath(), $"govshare-load-{Environment.ProcessId}"));
        var only = Option(args, "--only")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
        var unknown = args.Where((a, i) => a.StartsWith("--", StringComparison.Ordinal) && a is not ("--smoke" or "--out" or "--work" or "--keep" or "--only" or "--node-env" or "--baseline-env" or "--inline-scheduling" or "--small-seconds")).ToList();
        var unknownCases = only?.Except(RunResults.CaseIds).ToList() ?? [];
        if (unknown.Count > 0 || unknownCases.Count > 0)
        {
            await Console.Error.WriteLineAsync($"Unknown options or cases: {string.Join(' ', unknown.Concat(unknownCases))}. Usage: GovShare.LoadBenchmark [--smoke] [--out results.json] [--work folder] [--keep] [--only case,case] [--node-env DOTNET_X=v,DOTNET_Y=w] [--baseline-env DOTNET_X=v] [--inline-scheduling] [--small-seconds N] (cases: {string.Join(", ", RunResults.CaseIds)})");
            return 2;
        }

        ChildProcess.NodeEnvironmentOverrides = ChildProcess.ParseEnvironment(Option(args, "--node-env"));
        ChildProcess.BaselineEnvironmentOverrides = ChildProcess.ParseEnvironment(Option(args, "--baseline-env"));
        // Kestrel's inline scheduling for the node (Node:InlineScheduling) and the baselines alike.
        s_inlineScheduling = args.Contains("--inline-scheduling");
        if (!smoke && !ChildProcess.NodeCodeIsReadyToRun())
        {
            // The image runs ReadyToRun code; a JIT-only node pays tier-up the shipped one does not.
            await Console.Error.WriteLineAsync("Warning: the node's code is JIT-only (a plain build), the image's is ReadyToRun. For figures of the node as shipped, publish first: benchmarks/README.md, \"Run them\".");
        }

        Directory.CreateDirectory(work);
        var sizes = smoke ? Sizes.Smoke : Sizes.Full;
        // Longer one-row rounds for a profile (perf attached from a few seconds into a round); the
        // shipped 5 s are what results and the README compare.
        if (Option(args, "--small-seconds") is { } smallSeconds)
        {
            if (!double.TryParse(smallSeconds, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds) || seconds is <= 0 or > 600)
            {
                await Console.Error.WriteLineAsync($"--small-seconds takes a number of seconds from 0 to 600, not '{smallSeconds}'.");
                return 2;
            }

            sizes = sizes with { SmallDuration = TimeSpan.FromSeconds(seconds) };
        }

        var run = new LoadRun(sizes, smoke, work, only);
        if (sizes.SmallDuration != (smoke ? Sizes.Smoke : Sizes.Full).SmallDuration)
        {
            run._notes.Add($"One-row rounds of {sizes.SmallDuration.TotalSeconds:0.#} s (--small-seconds), not the usual {Sizes.Full.SmallDuration.TotalSeconds:0} s.");
        }

        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        try
        {
            await run.ExecuteAsync();
        }
        catch (Exception ex)
        {
            Progress.End("failed");
            await Console.Error.WriteLineAsync(ex.ToString());
            return 1;
        }
        finally
        {
            if (!args.Contains("--keep"))
            {
                TryDelete(work);
            }
        }

        var machine = Machine();
        run._notes.Add($"Measured node: {machine["nodeCode"]}; runtime settings {machine["nodeRuntime"]}. Baselines: this program's runtimeconfig (runtime defaults).");
        var results = new RunResults(started, clock.Elapsed.TotalSeconds, smoke, machine, run._sizeFigures, run._cases, run._notes);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        await File.WriteAllTextAsync(output, results.ToJson());
        Console.Out.WriteLine(results.ToMarkdown());
        foreach (var note in run._notes)
        {
            Console.Out.WriteLine("- " + note);
        }

        Console.Out.WriteLine($"Results: {output} ({clock.Elapsed.TotalSeconds:0} s)");
        return 0;
    }

    private async Task ExecuteAsync()
    {
        Progress.Begin("set-up");
        CreatePki();
        using var kafka = new KafkaMockCluster(3);
        var kunmingPort = FreePort();
        var provincePort = FreePort();
        var kunmingConfig = NodeConfig(Kunming, kunmingPort, kafka.BootstrapServers, _kunmingManagementPort) with
        {
            Departments = [_provider.Spec, _user.Spec],
            Links = [new LinkSpec(Province, "Parent", $"https://localhost:{provincePort}/", NodeKey(Province))],
            Resources = [.. new[] { LargeCode, PushCode, SmallCode, TextCode, ForwardedCode }.Select(code => new ResourceSpec(code, Kunming, _provider.CreditCode, _provider.Name))],
        };
        var provinceConfig = NodeConfig(Province, provincePort, kafka.BootstrapServers) with
        {
            Departments = [_provinceUser.Spec],
            Links = [new LinkSpec(Kunming, "Child", $"https://localhost:{kunmingPort}/", NodeKey(Kunming))],
        };

        Progress.Update("starting the Kunming and province nodes", force: true);
        var kunming = await ChildProcess.StartAsync("node-530100", NodeHost.Role, kunmingConfig, _work);
        await using var firstKunming = new StopOnce(kunming);
        await using var province = await ChildProcess.StartAsync("node-530000", NodeHost.Role, provinceConfig, _work);
        using var providerClient = Http.Client(_provider.Certificate, _roots, kunming.Address);

        // The provider pushes every resource once (set-up, not measured; a case left out by --only
        // is not set up: a large resource of one row).
        await PushGeneratedAsync(providerClient, LargeCode, Wants("pull-large") ? _sizes.LargeRows : 1, "large resource");
        await PushGeneratedAsync(providerClient, SmallCode, 1, "one-row resource");
        await PushGeneratedAsync(providerClient, TextCode, Wants("arrow-vs-json") ? _sizes.TextRows : 1, "text resource");
        await PushGeneratedAsync(providerClient, ForwardedCode, Wants("pull-forwarded") ? _sizes.ForwardedRows : 1, "forwarded resource");
        var pushFile = Path.Combine(_files, "push.arrow");
        await using (var file = File.Create(pushFile))
        {
            await Population.WriteStreamAsync(file, _sizes.PushRows, _sizes.BatchRows);
        }

        // The bytes the node serves become the baselines' files: same output bytes.
        long largeRows;
        using (var userClient = Http.Client(_user.Certificate, _roots, kunming.Address))
        {
            largeRows = await CaptureAsync(userClient, Http.Pull(LargeCode), "large.arrow");
            await CaptureAsync(userClient, Http.Pull(SmallCode), "small.arrow");
            await CaptureAsync(userClient, Http.Pull(ForwardedCode), "forwarded.arrow");
        }

        _recordBytes = ExchangeRecordBytes(Path.Combine(_work, "data-" + Kunming));
        _sizeFigures["exchange-record-bytes"] = _recordBytes;

        // A fresh node process for the measured cases, so its peak working set is theirs.
        Progress.Update("restarting the Kunming node", force: true);
        await firstKunming.DisposeAsync();
        kunming = await ChildProcess.StartAsync("node-530100-measured", NodeHost.Role, kunmingConfig with { Departments = [], Links = [], Resources = [] }, _work);
        await using var _ = kunming;
        _notes.Add($"Measured node's runtime, as it reported itself: {kunming.RuntimeReport}.");
        await using var raw = await ChildProcess.StartAsync("raw-kestrel", RawServer.Role, BaselineConfig() with { Folder = _files, RecordBytes = _recordBytes, KeepUploads = KeptUploads }, _work);
        await using var yarp = await ChildProcess.StartAsync("yarp-hop", YarpHop.Role, BaselineConfig() with
        {
            Upstream = raw.Address.ToString(),
            ClientCertificate = Path.Combine(_pki.IssuedFolder, $"node-{Province}.crt"),
            ClientKey = Path.Combine(_pki.IssuedFolder, $"node-{Province}.key"),
        }, _work);
        Progress.End("ready: nodes, raw Kestrel, YARP hop, Kafka mock cluster " + kafka.BootstrapServers);

        using var user = Http.Client(_user.Certificate, _roots, kunming.Address);
        using var rawClient = Http.Client(_user.Certificate, _roots, raw.Address);
        using var yarpClient = Http.Client(_user.Certificate, _roots, yarp.Address);
        using var provinceClient = Http.Client(_provinceUser.Certificate, _roots, province.Address);

        if (Wants("pull-large") || Wants("peak-working-set-1gb-pull"))
        {
            await LargePullAsync(user, rawClient, kunming, raw, largeRows);
        }

        if (Wants("push"))
        {
            await PushAsync(providerClient, rawClient, pushFile, kunming, raw);
        }

        if (Wants("small-exchanges") || Wants("small-exchanges-durable"))
        {
            await SmallExchangesAsync(user, rawClient, kunming, raw);
        }

        if (Wants("pull-forwarded"))
        {
            await ForwardedAsync(provinceClient, yarpClient, province, kunming, yarp, raw);
        }

        if (Wants("arrow-vs-json"))
        {
            await ArrowVersusJsonAsync(user, kunming);
        }

        await KafkaCheckAsync(kafka);
    }

    private async Task LargePullAsync(HttpClient node, HttpClient raw, ChildProcess kunming, ChildProcess rawServer, long rows)
    {
        Progress.Begin("pull-large");
        await WarmUpAsync(node, raw);
        long sampledPeak = 0;
        long sampledNow = 0;
        using var sampling = new CancellationTokenSource();
        // The node's RSS is read here only, every 50 ms, in raw and node rounds alike; the progress
        // lines show the last sample. (They read /proc/<pid>/status themselves once, on every
        // 128 KiB the client read from the node: ~9,000 reads a round in node rounds only, which
        // took 0.3-0.6 ns/B of the two cores' CPU from the node it measured; perf, 5 Dec.)
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                var now = kunming.WorkingSet;
                Volatile.Write(ref sampledNow, now);
                sampledPeak = Math.Max(sampledPeak, now);
                await Task.Delay(50, CancellationToken.None);
            }
        });
        // Whole pulls from each before the measured rounds: a node in production has served
        // pulls before, so its hot paths (framing, hashing, masking, the writer) run tier-1 code;
        // a freshly started one spends its first pull in tier-0, instrumented (PGO) and OSR code,
        // with the JIT's tiering thread competing for the same two cores. One pair, then more
        // (at most 3) while either server's tiering thread used 2 % or more of its CPU in the
        // last pair (WarmUp.UntilTieredAsync, as for the other cases): after one pair it was still 5 % of the node's CPU through the
        // measured rounds at load 70 (perf, 5 Dec). Not measured; counted in the peak working
        // set (VmHWM), which covers every pull.
        var warm = await WarmUp.UntilTieredAsync(_smoke, atLeast: 1, atMost: 4,
            new WarmUpStep(rawServer, async round =>
            {
                await Http.DownloadAsync(raw, Http.Get("files/large.arrow"), progress: b => Progress.Update($"warm-up {round} raw Kestrel {b / 1e6:0} MB"));
                return 1;
            }),
            new WarmUpStep(kunming, async round =>
            {
                await Http.DownloadAsync(node, Http.Pull(LargeCode), progress: b => Progress.Update($"warm-up {round} node {b / 1e6:0} MB, node RSS {Volatile.Read(ref sampledNow) / 1e6:0} MB"));
                return 1;
            }));
        _kunmingExchanges += warm.Rounds;

        var (nodeRuns, rawRuns, nodeCpu, rawCpu) = await RoundsAsync(
            () => Http.DownloadAsync(raw, Http.Get("files/large.arrow"), progress: b => Progress.Update($"raw Kestrel {b / 1e6:0} MB")),
            () => Http.DownloadAsync(node, Http.Pull(LargeCode), progress: b => Progress.Update($"node {b / 1e6:0} MB, node RSS {Volatile.Read(ref sampledNow) / 1e6:0} MB")),
            [rawServer],
            [kunming]);
        await sampling.CancelAsync();
        await sampler;
        var nodeMbps = Median(nodeRuns.Select(t => t.MegabytesPerSecond));
        var rawMbps = Median(rawRuns.Select(t => t.MegabytesPerSecond));
        var bytes = nodeRuns[0].Bytes;
        Add("pull-large", "Pull of a large resource (projection + 2 masked items), Arrow", "raw Kestrel mTLS file", "MB/s", nodeMbps, rawMbps, 0.8, new()
        {
            ["rows"] = rows,
            ["bytes"] = bytes,
            ["nodeRowsPerSecond"] = rows / Median(nodeRuns.Select(t => t.Seconds)),
            ["baselineRowsPerSecond"] = rows / Median(rawRuns.Select(t => t.Seconds)),
            ["rounds"] = nodeRuns.Count,
            ["nodeCpuNsPerByte"] = NsPerByte(nodeCpu, nodeRuns),
            ["baselineCpuNsPerByte"] = NsPerByte(rawCpu, rawRuns),
            ["warmUpPulls"] = warm.Rounds,
            ["warmUpLastTieringShareNode"] = warm.ShareOf(kunming),
            ["warmUpLastTieringShareBaseline"] = warm.ShareOf(rawServer),
        });

        var peakMb = kunming.PeakWorkingSet / 1e6;
        Add("peak-working-set-1gb-pull", $"Node peak working set (VmHWM) during {bytes / 1e9:0.00} GB pulls", "limit", "MB", peakMb, 256, 0, new()
        {
            ["nodeSampledPeakRssMB"] = sampledPeak / 1e6,
            ["rawKestrelPeakMB"] = rawServer.PeakWorkingSet / 1e6,
            ["pulledBytes"] = bytes,
        }, met: peakMb <= 256, target: "≤ 256 MB");
        _kunmingExchanges += nodeRuns.Count + 1;
    }

    private async Task PushAsync(HttpClient node, HttpClient raw, string file, ChildProcess kunming, ChildProcess rawServer)
    {
        Progress.Begin("push");
        var path = Population.DataPath(PushCode, "mode=replace");
        // Whole pushes to each before the measured rounds, until the node has stopped re-compiling
        // (WarmUp.UntilTieredAsync: at least two, at most 8 pairs). A node in production has taken
        // pushes before, so validation, the value rules and the writer run tier-1 code. Without
        // warm-up the node's rounds were a third JIT (results/profile-push.txt); with a fixed two,
        // at load 60 the tiering thread still took a quarter of the node's samples through the
        // first two measured rounds, and none in the third (fix/push4 section there).
        var warm = await WarmUp.UntilTieredAsync(_smoke, atLeast: 2, atMost: 8,
            new WarmUpStep(null, async _ =>
            {
                await Http.UploadAsync(raw, "upload", file);
                return 1;
            }),
            new WarmUpStep(kunming, async _ =>
            {
                await Http.UploadAsync(node, path, file);
                return 1;
            }));
        _kunmingExchanges += warm.Rounds;

        // Each upload's own CPU, user and system, so the table shows the spread between rounds and
        // how much of it is the kernel's (page-cache pages first written: benchmarks/README.md, Push).
        var rawRounds = new List<(double Cpu, double Sys, long Bytes)>();
        var nodeRounds = new List<(double Cpu, double Sys, long Bytes)>();
        var (nodeRuns, rawRuns, nodeCpu, rawCpu) = await RoundsAsync(
            () => MeasuredUploadAsync(raw, "upload", file, rawServer, rawRounds),
            () => MeasuredUploadAsync(node, path, file, kunming, nodeRounds),
            [rawServer],
            [kunming],
            label: "uploading " + new FileInfo(file).Length / 1_000_000 + " MB");
        var nodeMbps = Median(nodeRuns.Select(t => t.MegabytesPerSecond));
        Add("push", "Push (validated, written, fsync'd, published)", $"raw Kestrel mTLS: body from the pipe to a file in 1 MiB writes, each handed to writeback as the node does, one fsync; keeps its last {KeptUploads} uploads as the node keeps versions", "MB/s", nodeMbps, Median(rawRuns.Select(t => t.MegabytesPerSecond)), 0.7, new()
        {
            ["rows"] = _sizes.PushRows,
            ["bytes"] = nodeRuns[0].Bytes,
            ["nodeRowsPerSecond"] = _sizes.PushRows / Median(nodeRuns.Select(t => t.Seconds)),
            ["rounds"] = nodeRuns.Count,
            ["nodeCpuNsPerByte"] = NsPerByte(nodeCpu, nodeRuns),
            ["baselineCpuNsPerByte"] = NsPerByte(rawCpu, rawRuns),
            ["nodeCpuNsPerByteMin"] = nodeRounds.Min(r => r.Cpu * 1e9 / r.Bytes),
            ["nodeCpuNsPerByteMax"] = nodeRounds.Max(r => r.Cpu * 1e9 / r.Bytes),
            ["baselineCpuNsPerByteMin"] = rawRounds.Min(r => r.Cpu * 1e9 / r.Bytes),
            ["baselineCpuNsPerByteMax"] = rawRounds.Max(r => r.Cpu * 1e9 / r.Bytes),
            ["nodeSystemNsPerByte"] = nodeRounds.Sum(r => r.Sys) * 1e9 / nodeRounds.Sum(r => r.Bytes),
            ["baselineSystemNsPerByte"] = rawRounds.Sum(r => r.Sys) * 1e9 / rawRounds.Sum(r => r.Bytes),
            ["keptUploads"] = KeptUploads,
            ["warmUpPushes"] = warm.Rounds,
            ["warmUpSeconds"] = warm.Seconds,
            ["warmUpLastTieringShare"] = warm.ShareOf(kunming),
        });
        _kunmingExchanges += nodeRuns.Count;
    }

    /// <summary>
    /// Uploads the raw baseline keeps, the node's own default of dataset versions kept per resource:
    /// both keep their last files and delete the oldest beyond it, so both write into pages the
    /// kernel had to find, as the other does (benchmarks/README.md, Push).
    /// </summary>
    private static int KeptUploads { get; } = new GovShare.Node.Exchange.ExchangeOptions().KeepVersions;

    private static async Task<Transfer> MeasuredUploadAsync(HttpClient client, string path, string file, ChildProcess server, List<(double Cpu, double Sys, long Bytes)> rounds)
    {
        var (cpu, sys) = (server.CpuSeconds, SystemCpuSeconds(server));
        var transfer = await Http.UploadAsync(client, path, file);
        rounds.Add((server.CpuSeconds - cpu, SystemCpuSeconds(server) - sys, transfer.Bytes));
        return transfer;
    }

    /// <summary>A child's system (kernel) CPU seconds, field 15 (stime) of /proc/pid/stat.</summary>
    private static double SystemCpuSeconds(ChildProcess server)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{server.Pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture) / 100.0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private async Task SmallExchangesAsync(HttpClient node, HttpClient raw, ChildProcess kunming, ChildProcess rawServer)
    {
        Progress.Begin("small-exchanges");
        var rounds = Math.Max(1, _sizes.Rounds - 1);
        var nodeLoops = new List<Loop>();
        var rawLoops = new List<Loop>();
        var durableLoops = new List<Loop>();
        // Warm-up, not measured, of the node and both baselines until their tiering threads are
        // idle (WarmUp.UntilTieredAsync): rounds of 3 s of the same closed loop each, at least 2, so
        // the measured rounds see the steady state of servers that have been serving (hot methods
        // re-compiled at tier 1 with PGO). The fixed 5 s each this case had left half the node's
        // samples tier-up JIT through two 20-s rounds at load 80, which the baselines (a few small
        // methods) did not pay (results/profile-small-exchanges.txt, fix/small7).
        var step = TimeSpan.FromSeconds(_smoke ? 0.5 : 3);
        // Each warm-up step also makes the readings the measured rounds make around their loops (the
        // servers' allocated bytes and fsyncs, the node's /metrics), so their code is tiered before
        // the measured rounds: the node's first readings came after the warm-up, and the tier-1
        // re-compiles of its /metrics exporter ran in the background in the rounds after them
        // (session 19: ~500 methods in the node's perf map as the first measured round began).
        // Only the node's requests are counted (the Kafka check expects each in the topic).
        var warm = await WarmUp.UntilTieredAsync(_smoke, atLeast: 2, atMost: int.MaxValue,
            new WarmUpStep(rawServer, async round =>
            {
                await BaselineAllocatedAsync(raw);
                await ClosedLoopAsync(raw, () => Http.Get("small"), step, $"warm-up {round} raw", rawServer);
                await BaselineAllocatedAsync(raw);
                return 0;
            }),
            new WarmUpStep(rawServer, async round =>
            {
                await BaselineFsyncsAsync(raw);
                await ClosedLoopAsync(raw, () => Http.Get("small-durable"), step, $"warm-up {round} durable", rawServer);
                await BaselineAllocatedAsync(raw);
                return 0;
            }),
            new WarmUpStep(kunming, async round =>
            {
                await ExchangeLogGroupsAsync();
                await NodeAllocatedAsync();
                var requests = (await ClosedLoopAsync(node, () => Http.Pull(SmallCode), step, $"warm-up {round} node", kunming)).Requests;
                await NodeAllocatedAsync();
                return requests;
            }));
        _kunmingExchanges += warm.Work;
        // Group commit in the measured rounds: records an fsync made durable, the node's from its
        // own histogram (govshare.log.fsync.group_size at /metrics), the durable baseline's from
        // its fsync count. A release of waiters that shrank the groups shows here.
        var nodeGroupsBefore = await ExchangeLogGroupsAsync();
        var fsyncsBefore = await BaselineFsyncsAsync(raw);
        // Bytes allocated a request, each server's over its own loops only (read just before and after each).
        long nodeAllocated = 0, rawAllocated = 0, durableAllocated = 0;
        for (var round = 0; round < rounds; round++)
        {
            var before = await BaselineAllocatedAsync(raw);
            rawLoops.Add(await ClosedLoopAsync(raw, () => Http.Get("small"), _sizes.SmallDuration, $"round {round + 1}/{rounds} raw", rawServer));
            var between = await BaselineAllocatedAsync(raw);
            rawAllocated += between - before;
            durableLoops.Add(await ClosedLoopAsync(raw, () => Http.Get("small-durable"), _sizes.SmallDuration, $"round {round + 1}/{rounds} durable", rawServer));
            durableAllocated += await BaselineAllocatedAsync(raw) - between;
            before = await NodeAllocatedAsync();
            nodeLoops.Add(await ClosedLoopAsync(node, () => Http.Pull(SmallCode), _sizes.SmallDuration, $"round {round + 1}/{rounds} node", kunming));
            nodeAllocated += await NodeAllocatedAsync() - before;
        }

        var nodeGroupsAfter = await ExchangeLogGroupsAsync();
        var fsyncsAfter = await BaselineFsyncsAsync(raw);
        var nodeRecordsAnFsync = (nodeGroupsAfter.Records - nodeGroupsBefore.Records) / Math.Max(1, nodeGroupsAfter.Groups - nodeGroupsBefore.Groups);
        var durableRecordsAnFsync = durableLoops.Sum(l => l.Requests) / (double)Math.Max(1, fsyncsAfter - fsyncsBefore);
        var nodeLatencies = nodeLoops.SelectMany(l => l.LatenciesMs).Order().ToArray();
        var rawLatencies = rawLoops.SelectMany(l => l.LatenciesMs).Order().ToArray();
        var durableLatencies = durableLoops.SelectMany(l => l.LatenciesMs).Order().ToArray();
        static double Rate(List<Loop> loops) => loops.Sum(l => l.Requests) / loops.Sum(l => l.Seconds);
        static double CpuUs(List<Loop> loops) => loops.Sum(l => l.ServerCpuSeconds) * 1e6 / Math.Max(1, loops.Sum(l => l.Requests));
        static double BytesEach(long allocated, List<Loop> loops) => Math.Round(allocated / (double)Math.Max(1, loops.Sum(l => l.Requests)));
        // Whether the warm-up held: the tiering thread's share of the server's CPU in the measured rounds.
        static double TieringShare(List<Loop> loops) => loops.Sum(l => l.TieringCpuSeconds) / Math.Max(0.01, loops.Sum(l => l.ServerCpuSeconds));
        var nodeRps = Rate(nodeLoops);
        _kunmingExchanges += nodeLoops.Sum(l => l.Requests);
        var bodyBytes = new FileInfo(Path.Combine(_files, "small.arrow")).Length;
        Add("small-exchanges", "One-row pulls, exchange log on (fsync + Kafka relay)", "raw Kestrel mTLS, same body", "req/s", nodeRps, Rate(rawLoops), 0.5, new()
        {
            ["workers"] = _sizes.SmallWorkers,
            ["nodeP50Ms"] = Percentile(nodeLatencies, 0.50),
            ["nodeP99Ms"] = Percentile(nodeLatencies, 0.99),
            ["baselineP50Ms"] = Percentile(rawLatencies, 0.50),
            ["baselineP99Ms"] = Percentile(rawLatencies, 0.99),
            ["nodeRequests"] = nodeLoops.Sum(l => l.Requests),
            ["bodyBytes"] = bodyBytes,
            ["nodeCpuUsPerExchange"] = CpuUs(nodeLoops),
            ["baselineCpuUsPerExchange"] = CpuUs(rawLoops),
            ["warmUpSeconds"] = warm.Seconds,
            ["warmUpRounds"] = warm.Rounds,
            ["warmUpNodeRequests"] = warm.Work,
            ["warmUpLastTieringShareNode"] = warm.ShareOf(kunming),
            ["warmUpLastTieringShareBaseline"] = warm.ShareOf(rawServer),
            ["nodeTieringShareMeasured"] = TieringShare(nodeLoops),
            ["nodeRecordsAnFsync"] = nodeRecordsAnFsync,
            ["baselineTieringShareMeasured"] = TieringShare(rawLoops.Concat(durableLoops).ToList()),
            ["nodeBytesPerExchange"] = BytesEach(nodeAllocated, nodeLoops),
            ["baselineBytesPerExchange"] = BytesEach(rawAllocated, rawLoops),
        });
        var durableP99 = Percentile(durableLatencies, 0.99);
        var ratio = nodeRps / Math.Max(1e-9, Rate(durableLoops));
        Add("small-exchanges-durable", "One-row pulls, exchange log on, against durability alone", $"raw Kestrel mTLS + a {_recordBytes}-byte record group-committed to an fsync'd file", "req/s", nodeRps, Rate(durableLoops), 0.8, new()
        {
            ["workers"] = _sizes.SmallWorkers,
            ["nodeP99Ms"] = Percentile(nodeLatencies, 0.99),
            ["baselineP50Ms"] = Percentile(durableLatencies, 0.50),
            ["baselineP99Ms"] = durableP99,
            ["recordBytes"] = _recordBytes,
            ["nodeCpuUsPerExchange"] = CpuUs(nodeLoops),
            ["baselineCpuUsPerExchange"] = CpuUs(durableLoops),
            ["baselineRequests"] = durableLoops.Sum(l => l.Requests),
            ["nodeRecordsAnFsync"] = nodeRecordsAnFsync,
            ["baselineRecordsAnFsync"] = durableRecordsAnFsync,
            ["nodeBytesPerExchange"] = BytesEach(nodeAllocated, nodeLoops),
            ["baselineBytesPerExchange"] = BytesEach(durableAllocated, durableLoops),
            ["warmUpSeconds"] = warm.Seconds,
            ["warmUpRounds"] = warm.Rounds,
            ["warmUpLastTieringShareNode"] = warm.ShareOf(kunming),
            ["warmUpLastTieringShareBaseline"] = warm.ShareOf(rawServer),
        }, met: ratio >= 0.8 && Percentile(nodeLatencies, 0.99) <= 2 * durableP99, target: "≥ 0.8, p99 ≤ 2 × baseline's");
    }

    /// <summary>The Kunming node's exchange-log fsyncs so far and the records they made durable (its <c>/metrics</c>).</summary>
    private async Task<(double Records, double Groups)> ExchangeLogGroupsAsync()
    {
        var text = await KunmingMetricsAsync();
        const string exchangeLog = "govshare_log=\"exchange\"";
        return (Sum(text, "govshare_log_fsync_group_size_sum", exchangeLog), Sum(text, "govshare_log_fsync_group_size_count", exchangeLog));
    }

    /// <summary>Bytes the Kunming node allocated so far (its <c>/metrics</c>: the runtime's <c>dotnet.gc.heap.total_allocated</c>).</summary>
    private async Task<long> NodeAllocatedAsync()
    {
        const string series = "dotnet_gc_heap_total_allocated_bytes_total";
        var text = await KunmingMetricsAsync();
        return text.Contains(series, StringComparison.Ordinal)
            ? (long)Sum(text, series)
            : throw new InvalidOperationException($"The node's /metrics has no {series} (the runtime's System.Runtime meter).");
    }

    /// <summary>The Kunming node's <c>/metrics</c> (Prometheus text).</summary>
    private async Task<string> KunmingMetricsAsync()
    {
        using var management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_kunmingManagementPort}/") };
        return await management.GetStringAsync(new Uri("metrics", UriKind.Relative));
    }

    /// <summary>
    /// The sum of a series' samples in Prometheus text (<c>name{labels} value [timestamp]</c> or
    /// <c>name value [timestamp]</c>), only those whose labels contain <paramref name="label"/> when given.
    /// </summary>
    private static double Sum(string metrics, string series, string? label = null) => metrics.Split('\n')
        .Where(l => l.StartsWith(series, StringComparison.Ordinal) && l.Length > series.Length && l[series.Length] is '{' or ' ')
        .Where(l => label is null || l.Contains(label, StringComparison.Ordinal))
        .Sum(l => double.Parse(l[(l.Contains('}', StringComparison.Ordinal) ? l.LastIndexOf('}') + 1 : series.Length)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture));

    /// <summary>Bytes the raw server allocated so far (its <c>/allocated</c>).</summary>
    private static async Task<long> BaselineAllocatedAsync(HttpClient raw) =>
        long.Parse(await raw.GetStringAsync(new Uri("allocated", UriKind.Relative)), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The durable baseline's fsyncs so far (its <c>/fsyncs</c>).</summary>
    private static async Task<long> BaselineFsyncsAsync(HttpClient raw) =>
        long.Parse(await raw.GetStringAsync(new Uri("fsyncs", UriKind.Relative)), System.Globalization.CultureInfo.InvariantCulture);

    private async Task ForwardedAsync(HttpClient province, HttpClient yarp, ChildProcess provinceProcess, ChildProcess kunming, ChildProcess yarpHop, ChildProcess rawServer)
    {
        Progress.Begin("pull-forwarded");
        // Whole forwarded pulls before the measured rounds, until all four servers' tiering threads are idle
        // (WarmUp.UntilTieredAsync, as for the other cases). The case had one small pull through each: the
        // province's forwarding path and the restarted Kunming's pull path were measured while the JIT was
        // still re-compiling them, on the same two cores (session 13, results/profile-forwarded.txt).
        var warm = await WarmUp.UntilTieredAsync(_smoke, atLeast: 2, atMost: int.MaxValue,
            new WarmUpStep(yarpHop, async round => await ForwardedWarmUpAsync(yarp, Http.Get("files/forwarded.arrow"), $"warm-up {round}: YARP hop")),
            new WarmUpStep(rawServer, async round => await ForwardedWarmUpAsync(yarp, Http.Get("files/forwarded.arrow"), $"warm-up {round}: YARP hop")),
            new WarmUpStep(provinceProcess, async round => await ForwardedWarmUpAsync(province, Http.Pull(ForwardedCode), $"warm-up {round}: province → Kunming")),
            new WarmUpStep(kunming, async round => await ForwardedWarmUpAsync(province, Http.Pull(ForwardedCode), $"warm-up {round}: province → Kunming")));
        var (nodeRuns, rawRuns, nodeCpu, rawCpu) = await RoundsAsync(
            () => Http.DownloadAsync(yarp, Http.Get("files/forwarded.arrow"), progress: b => Progress.Update($"YARP hop {b / 1e6:0} MB")),
            () => Http.DownloadAsync(province, Http.Pull(ForwardedCode), progress: b => Progress.Update($"province → Kunming {b / 1e6:0} MB")),
            [yarpHop, rawServer],
            [provinceProcess, kunming]);
        Add("pull-forwarded", "Pull forwarded by the province to Kunming (one YARP hop + owner)", "minimal YARP mTLS hop → raw Kestrel", "MB/s", Median(nodeRuns.Select(t => t.MegabytesPerSecond)), Median(rawRuns.Select(t => t.MegabytesPerSecond)), 0.8, new()
        {
            ["rows"] = _sizes.ForwardedRows,
            ["bytes"] = nodeRuns[0].Bytes,
            ["rounds"] = nodeRuns.Count,
            // The middle node streams: its peak stays far below what passed through it.
            ["provincePeakWorkingSetMB"] = provinceProcess.PeakWorkingSet / 1e6,
            ["bytesThroughProvinceMB"] = nodeRuns.Sum(r => r.Bytes) / 1e6,
            ["nodesCpuNsPerByte"] = NsPerByte(nodeCpu, nodeRuns),
            ["baselineCpuNsPerByte"] = NsPerByte(rawCpu, rawRuns),
            ["warmUpRounds"] = warm.Rounds,
            ["warmUpSeconds"] = warm.Seconds,
            ["warmUpLastTieringShareProvince"] = warm.ShareOf(provinceProcess),
            ["warmUpLastTieringShareKunming"] = warm.ShareOf(kunming),
            ["warmUpLastTieringShareHop"] = warm.ShareOf(yarpHop),
            ["warmUpLastTieringShareRaw"] = warm.ShareOf(rawServer),
        });
        _kunmingExchanges += nodeRuns.Count + (warm.Work / 2); // Half the warm-up's pulls went through the province to Kunming.
    }

    /// <summary>One unmeasured whole pull of the forwarded case's warm-up; 1 transfer.</summary>
    private static async Task<long> ForwardedWarmUpAsync(HttpClient client, HttpRequestMessage request, string what)
    {
        await Http.DownloadAsync(client, request, progress: b => Progress.Update($"{what} {b / 1e6:0} MB"));
        return 1;
    }

    private async Task ArrowVersusJsonAsync(HttpClient node, ChildProcess kunming)
    {
        Progress.Begin("arrow-vs-json");
        // Warm-up, not measured, until the node has stopped re-compiling (WarmUp.UntilTieredAsync):
        // rounds of each format (2 s, at least 3 pulls each), at least 3 rounds. A production node
        // has been serving both, its per-row code re-compiled at tier 1 with PGO: a quarter of the
        // JSON phase's node CPU was JIT with the one-pull warm-up this case had, a third to a half
        // after a fixed 6 s at load 50, and at load 60 the node's CPU per pull settled only after
        // about a minute (results/profile-arrow-vs-json.txt).
        var warm = await WarmUp.UntilTieredAsync(_smoke, atLeast: 3, atMost: int.MaxValue,
            new WarmUpStep(kunming, async round => (await RepeatAsync(() => Http.DownloadAsync(node, Http.Pull(TextCode, "application/json")), TimeSpan.FromSeconds(_smoke ? 0.5 : 2), $"warm-up {round} JSON", 3)).Count),
            new WarmUpStep(kunming, async round => (await RepeatAsync(() => Http.DownloadAsync(node, Http.Pull(TextCode)), TimeSpan.FromSeconds(_smoke ? 0.5 : 2), $"warm-up {round} Arrow", 3)).Count));
        // Alternating rounds (Arrow, JSON, Arrow, JSON …) so that other work on the machine hits
        // both; the node's CPU (/proc/<pid>/stat) is read around each round.
        var arrow = new List<Transfer>();
        var json = new List<Transfer>();
        double arrowCpu = 0, jsonCpu = 0;
        var roundDuration = _sizes.TextDuration / _sizes.Rounds;
        for (var round = 0; round < _sizes.Rounds; round++)
        {
            // Forced, so a profile can cut its samples at the rounds' starts (results/profile-arrow-vs-json.txt).
            Progress.Update($"round {round + 1}/{_sizes.Rounds} Arrow", force: true);
            var cpu = kunming.CpuSeconds;
            arrow.AddRange(await RepeatAsync(() => Http.DownloadAsync(node, Http.Pull(TextCode)), roundDuration, $"round {round + 1}/{_sizes.Rounds} Arrow"));
            arrowCpu += kunming.CpuSeconds - cpu;
            Progress.Update($"round {round + 1}/{_sizes.Rounds} JSON", force: true);
            cpu = kunming.CpuSeconds;
            json.AddRange(await RepeatAsync(() => Http.DownloadAsync(node, Http.Pull(TextCode, "application/json")), roundDuration, $"round {round + 1}/{_sizes.Rounds} JSON"));
            jsonCpu += kunming.CpuSeconds - cpu;
        }

        var arrowRows = arrow.Count * _sizes.TextRows / arrow.Sum(t => t.Seconds);
        var jsonRows = json.Count * _sizes.TextRows / json.Sum(t => t.Seconds);
        var arrowCpuMs = arrowCpu * 1e3 / arrow.Count;
        var jsonCpuMs = jsonCpu * 1e3 / json.Count;
        Progress.End($"Arrow {arrowRows / 1e6:0.00} M rows/s ({arrowCpuMs:0.0} ms node CPU a pull), JSON {jsonRows / 1e6:0.00} M rows/s ({jsonCpuMs:0.0} ms)");
        Add("arrow-vs-json", "Same rows through the node as Arrow", "the node as JSON", "rows/s", arrowRows, jsonRows, 10, new()
        {
            ["rowsPerPull"] = _sizes.TextRows,
            ["arrowBytesPerPull"] = arrow[0].Bytes,
            ["jsonBytesPerPull"] = json[0].Bytes,
            ["arrowPulls"] = arrow.Count,
            ["jsonPulls"] = json.Count,
            ["warmUpPulls"] = warm.Work,
            ["warmUpSeconds"] = warm.Seconds,
            ["warmUpLastTieringShare"] = warm.ShareOf(kunming),
            ["arrowNodeCpuMsPerPull"] = arrowCpuMs,
            ["jsonNodeCpuMsPerPull"] = jsonCpuMs,
            ["nodeCpuRatio"] = jsonCpuMs / Math.Max(1e-9, arrowCpuMs),
            ["arrowNodeCpuNsPerByte"] = NsPerByte(arrowCpu, arrow),
            ["jsonNodeCpuNsPerByte"] = NsPerByte(jsonCpu, json),
        });
        _kunmingExchanges += arrow.Count + json.Count + warm.Work;
    }

    private async Task KafkaCheckAsync(KafkaMockCluster kafka)
    {
        Progress.Begin("kafka");
        var topic = KafkaOptions.Topic(Kunming, LogKind.Exchange);
        long relayed = 0;
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(_smoke ? 10 : 30))
        {
            relayed = RecordsIn(kafka.BootstrapServers, topic);
            Progress.Update($"{relayed} exchange records in {topic}");
            if (relayed >= _kunmingExchanges)
            {
                break;
            }

            await Task.Delay(500);
        }

        Progress.End($"{relayed} exchange-log records of Kunming in Kafka topic {topic}");
        _notes.Add($"Kafka: {relayed} exchange-log records of node 530100 reached topic {topic} of the mock cluster (the driver made about {_kunmingExchanges} exchanges with that node, plus the provider's set-up pushes before its restart).");
    }

    private static long RecordsIn(string bootstrap, string topic)
    {
        try
        {
            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
            var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(5));
            using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "govshare-load-benchmark" }).Build();
            return metadata.Topics.SelectMany(t => t.Partitions)
                .Sum(p => consumer.QueryWatermarkOffsets(new TopicPartition(topic, p.PartitionId), TimeSpan.FromSeconds(5)).High.Value);
        }
        catch (KafkaException)
        {
            return 0;
        }
    }

    /// <summary>Alternates baseline and node rounds (baseline first), so drift from other work on the machine hits both.</summary>
    private async Task<(List<Transfer> Node, List<Transfer> Baseline, double NodeCpuSeconds, double BaselineCpuSeconds)> RoundsAsync(Func<Task<Transfer>> baseline, Func<Task<Transfer>> node, ChildProcess[] baselineServers, ChildProcess[] nodeServers, string? label = null)
    {
        var nodeRuns = new List<Transfer>();
        var baselineRuns = new List<Transfer>();
        double nodeCpu = 0, baselineCpu = 0;
        for (var round = 0; round < _sizes.Rounds; round++)
        {
            Progress.Update($"round {round + 1}/{_sizes.Rounds} baseline {label}", force: true);
            var cpu = CpuOf(baselineServers);
            baselineRuns.Add(await baseline());
            baselineCpu += CpuOf(baselineServers) - cpu;
            Progress.Update($"round {round + 1}/{_sizes.Rounds} node {label}", force: true);
            cpu = CpuOf(nodeServers);
            nodeRuns.Add(await node());
            nodeCpu += CpuOf(nodeServers) - cpu;
        }

        Progress.End($"node {Median(nodeRuns.Select(t => t.MegabytesPerSecond)):0} MB/s, baseline {Median(baselineRuns.Select(t => t.MegabytesPerSecond)):0} MB/s");
        return (nodeRuns, baselineRuns, nodeCpu, baselineCpu);
    }

    private static double CpuOf(ChildProcess[] servers) => servers.Sum(s => s.CpuSeconds);

    /// <summary>Server CPU (user + system) per byte moved, in nanoseconds.</summary>
    private static double NsPerByte(double cpuSeconds, List<Transfer> runs) => cpuSeconds * 1e9 / Math.Max(1, runs.Sum(r => r.Bytes));

    private bool Wants(string caseId) => _only is null || _only.Contains(caseId);

    /// <summary>
    /// The mean size of a line of the node's exchange log (records and the odd checkpoint), read
    /// from its data folder after the set-up's exchanges: what the durable baseline appends.
    /// </summary>
    private static int ExchangeRecordBytes(string dataFolder)
    {
        var folder = LogStore.ForDataFolder(dataFolder).FolderOf(LogKind.Exchange);
        long bytes = 0, lines = 0;
        foreach (var segment in Directory.EnumerateFiles(folder).Where(f => f.EndsWith(".log", StringComparison.Ordinal) || f.EndsWith(".jsonl", StringComparison.Ordinal)))
        {
            foreach (var line in File.ReadLines(segment))
            {
                bytes += System.Text.Encoding.UTF8.GetByteCount(line) + 1;
                lines++;
            }
        }

        return lines == 0 ? 512 : (int)(bytes / lines);
    }

    private static async Task<List<Transfer>> RepeatAsync(Func<Task<Transfer>> transfer, TimeSpan duration, string label, int atLeast = 1)
    {
        var runs = new List<Transfer>();
        var clock = Stopwatch.StartNew();
        do
        {
            runs.Add(await transfer());
            Progress.Update($"{label}: {runs.Count} pulls");
        }
        while (clock.Elapsed < duration || runs.Count < atLeast);
        return runs;
    }

    private async Task<Loop> ClosedLoopAsync(HttpClient client, Func<HttpRequestMessage> request, TimeSpan duration, string label, ChildProcess server)
    {
        var cpu = server.CpuSeconds;
        var tiering = server.ThreadCpuSeconds(WarmUp.TieringThread);
        var clock = Stopwatch.StartNew();
        long requests = 0;
        var workers = Enumerable.Range(0, _sizes.SmallWorkers).Select(worker => Task.Run(async () =>
        {
            var latencies = new List<double>(4096);
            while (clock.Elapsed < duration)
            {
                var started = Stopwatch.GetTimestamp();
                using var message = request();
                using var response = await client.SendAsync(message);
                await Http.EnsureOkAsync(response, message);
                _ = await response.Content.ReadAsByteArrayAsync();
                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                var done = Interlocked.Increment(ref requests);
                Progress.Update($"{label}: {done} requests, {done / clock.Elapsed.TotalSeconds:0} req/s");
            }

            return latencies;
        })).ToList();
        var all = await Task.WhenAll(workers);
        var seconds = clock.Elapsed.TotalSeconds;
        var compiled = server.ThreadCpuSeconds(WarmUp.TieringThread).Sum(t => t.Value - tiering.GetValueOrDefault(t.Key));
        return new Loop(requests, seconds, [.. all.SelectMany(l => l)], server.CpuSeconds - cpu, compiled);
    }

    private static async Task WarmUpAsync(HttpClient node, HttpClient raw)
    {
        for (var i = 0; i < 3; i++)
        {
            await Http.DownloadAsync(raw, Http.Get("small"));
            await Http.DownloadAsync(node, Http.Pull(SmallCode));
        }
    }

    private async Task PushGeneratedAsync(HttpClient provider, string code, long rows, string what)
    {
        var started = Stopwatch.GetTimestamp();
        using var content = new GeneratedContent(rows, _sizes.BatchRows, sent => Progress.Update($"pushing the {what}: {sent / 1e6:0} MB"));
        using var request = new HttpRequestMessage(HttpMethod.Post, Population.DataPath(code, "mode=replace")) { Content = content };
        using var response = await provider.SendAsync(request);
        await Http.EnsureOkAsync(response, request);
        Progress.End($"pushed the {what}: {rows:#,0} rows, {content.Sent / 1e6:0} MB in {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s");
        _sizeFigures[what.Replace(' ', '-') + "-rows"] = rows;
    }

    /// <summary>Pulls once into a file for the baselines and counts the rows in it (the bytes are a valid Arrow stream).</summary>
    private async Task<long> CaptureAsync(HttpClient client, HttpRequestMessage request, string name)
    {
        var path = Path.Combine(_files, name);
        await using (var file = File.Create(path))
        {
            await Http.DownloadAsync(client, request, file, b => Progress.Update($"capturing {name}: {b / 1e6:0} MB"));
        }

        long rows = 0;
        await using (var file = File.OpenRead(path))
        {
            using var reader = new ArrowStreamReader(file);
            while (await reader.ReadNextRecordBatchAsync() is { } batch)
            {
                rows += batch.Length;
                batch.Dispose();
            }
        }

        Progress.End($"captured {name}: {new FileInfo(path).Length / 1e6:0.0} MB, {rows:#,0} rows");
        _sizeFigures[name + "-bytes"] = new FileInfo(path).Length;
        return rows;
    }

    private void Add(string id, string title, string baselineTitle, string metric, double node, double baseline, double minimumRatio, Dictionary<string, double> details, bool? met = null, string? target = null)
    {
        var ratio = baseline > 0 ? node / baseline : 0;
        // The machine is shared: the 1-minute load average when the case ended says how shared.
        details["loadAverage1m"] = LoadAverage();
        _cases.Add(new CaseResult(id, title, baselineTitle, metric, Math.Round(node, 2), Math.Round(baseline, 2), Math.Round(ratio, 3), target ?? $"≥ {minimumRatio.ToString(CultureInfo.InvariantCulture)}", met ?? ratio >= minimumRatio, details.ToDictionary(d => d.Key, d => Math.Round(d.Value, 2))));
    }

    private void CreatePki()
    {
        _pki = new PkiFolder(Path.Combine(_work, "pki"));
        var now = DateTimeOffset.UtcNow;
        _pki.CreateRoot(Province, "Yunnan Province GovShare Root CA (benchmark)", now.AddDays(-1));
        _pki.CreateIntermediate(Kunming, "Kunming GovShare CA (benchmark)", now.AddDays(-1));
        foreach (var ca in _pki.AllAuthorities())
        {
            _pki.PublishCrl(ca, now);
        }

        foreach (var division in new[] { Province, Kunming })
        {
            _pki.IssueNode(division, now.AddMinutes(-5), now.AddDays(7), ["localhost"], [IPAddress.Loopback]);
        }

        _roots = [];
        _roots.ImportFromPemFile(_pki.TrustAnchorsFile);
        _provider = Issue(Kunming, "11530100MB0000001", "Kunming Public Security Bureau");
        _user = Issue(Kunming, "11530100MB0000002", "Kunming Civil Affairs Bureau");
        _provinceUser = Issue(Province, "11530000MB0000003", "Yunnan Provincial Health Commission");
    }

    /// <summary>The SHA-256 of a node's key, which a link to it pins.</summary>
    private string NodeKey(string division)
    {
        using var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(Path.Combine(_pki.IssuedFolder, $"node-{division}.crt"));
        return GovShare.Node.Identity.TrustMaterial.SpkiSha256(certificate);
    }

    private Dept Issue(string division, string body, string name)
    {
        var code = CreditCode.Complete(body);
        var now = DateTimeOffset.UtcNow;
        var files = _pki.IssueDepartment(division, code, name, now.AddMinutes(-5), now.AddDays(7));
        return new Dept(new DepartmentSpec(division, code, name), ServerConfig.LoadCertificate(files.CertificatePath, files.KeyPath));
    }

    private ServerConfig NodeConfig(string division, int port, string kafka, int managementPort = 0)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Node:DivisionCode"] = division,
            ["Node:DataPath"] = Path.Combine(_work, "data-" + division),
            ["Node:ExchangeUrl"] = $"https://127.0.0.1:{port}",
            ["Node:ManagementUrl"] = $"http://127.0.0.1:{managementPort}",
            ["Node:Certificate"] = Path.Combine(_pki.IssuedFolder, $"node-{division}.crt"),
            ["Node:Key"] = Path.Combine(_pki.IssuedFolder, $"node-{division}.key"),
            ["Node:TrustAnchors"] = _pki.TrustAnchorsFile,
            ["Node:Intermediates"] = _pki.IntermediatesFile,
            ["Node:CrlPath"] = _pki.CrlFolder,
            ["Node:InlineScheduling"] = s_inlineScheduling ? "true" : "false",
            // Kestrel's default keep-alive (130 s), which the baselines keep, instead of the node's 30 s:
            // with --small-seconds 20 the driver's connections to the node idled 40 s through the two
            // baseline rounds, the node closed them, and each measured node round began with 16 TLS
            // handshakes, chain validations and their tier-1 re-compiles (session 19's profiles: ~650
            // methods compiled as each node round began, ~2 % of its CPU) that the baselines did not pay.
            ["Node:KeepAliveTimeout"] = "00:02:10",
            ["Hierarchy:PublishInterval"] = "00:00:01",
            ["Hierarchy:HealthInterval"] = "00:00:02",
            ["Kafka:BootstrapServers"] = kafka,
            // 4 MiB log segments instead of the default 64: a closed segment is gzip-archived (~4 us of
            // CPU a record, results/profile-small-exchanges.txt), and a run writes about one 64-MiB
            // segment, so with the default that cost landed inside the measured one-row rounds or
            // outside them by chance (0 or ~5.6 us a pull). At 4 MiB (~6,500 records) every round
            // archives several segments and pays its share; the work a byte costs is the same.
            ["Logs:SegmentBytes"] = (4 * 1024 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture),
            // The shipped appsettings.json: information logging to the console (drained by the driver).
            ["Logging:LogLevel:Default"] = "Information",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
            ["Logging:LogLevel:Microsoft.AspNetCore.DataProtection"] = "Error",
        };
        // A --node-env variable naming a node setting (Node__InlineScheduling=true) decides it: the node reads these
        // settings after its environment, so the driver's own value would silently win over the variable.
        foreach (var (variable, _) in ChildProcess.NodeEnvironmentOverrides)
        {
            settings.Remove(variable.Replace("__", ":", StringComparison.Ordinal));
        }

        return new() { Settings = settings };
    }

    private ServerConfig BaselineConfig() => new()
    {
        Certificate = Path.Combine(_pki.IssuedFolder, $"node-{Kunming}.crt"),
        Key = Path.Combine(_pki.IssuedFolder, $"node-{Kunming}.key"),
        TrustAnchors = _pki.TrustAnchorsFile,
        Intermediates = _pki.IntermediatesFile,
        InlineScheduling = s_inlineScheduling,
    };

    private static Dictionary<string, string> Machine()
    {
        var cpu = File.Exists("/proc/cpuinfo") ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() : null;
        var memory = File.Exists("/proc/meminfo") ? File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() : null;
        return new()
        {
            ["processors"] = Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture),
            ["cpu"] = cpu ?? "unknown",
            ["memory"] = memory ?? "unknown",
            ["os"] = RuntimeInformation.OSDescription,
            ["runtime"] = RuntimeInformation.FrameworkDescription,
            ["gc"] = System.Runtime.GCSettings.IsServerGC ? "server" : "workstation",
            // How the measured node ran: the kind of code and the runtime settings it was given.
            ["nodeCode"] = ChildProcess.NodeCodeIsReadyToRun() ? "ReadyToRun (as the image ships it)" : "JIT only (a plain build; the image is ReadyToRun)",
            ["nodeRuntime"] = string.Join(' ', ChildProcess.NodeRuntimeOptions().Select(o => $"{o.Name}={o.Value}")
                .Concat(ChildProcess.NodeEnvironment.Concat(ChildProcess.NodeEnvironmentOverrides).Select(v => $"{v.Variable}={v.Value}"))
                .Concat(s_inlineScheduling ? ["Node:InlineScheduling=true"] : [])),
            ["baselineRuntime"] = string.Join(' ', ChildProcess.BaselineEnvironmentOverrides.Select(v => $"{v.Variable}={v.Value}")
                .Concat(s_inlineScheduling ? ["UnsafePreferInlineScheduling=true"] : [])),
            ["loadAverageAtEnd"] = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "unknown",
        };
    }

    private static double LoadAverage() =>
        File.Exists("/proc/loadavg") && double.TryParse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture, out var load) ? load : -1;

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string? Option(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless.
        }
    }

    private sealed record Dept(DepartmentSpec Spec, X509Certificate2 Certificate)
    {
        public string CreditCode => Spec.CreditCode;

        public string Name => Spec.Name;
    }

    private sealed record Loop(long Requests, double Seconds, double[] LatenciesMs, double ServerCpuSeconds, double TieringCpuSeconds);
}

/// <summary>Stops a child once: early on purpose, or on the way out when something failed before (no orphan node).</summary>
internal sealed class StopOnce(ChildProcess child) : IAsyncDisposable
{
    private int _stopped;

    public ValueTask DisposeAsync() => Interlocked.Exchange(ref _stopped, 1) == 0 ? child.DisposeAsync() : ValueTask.CompletedTask;
}
