using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Logs;
using LiteDB;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

// Test-only entry points for the log feature; see tests/GovShare.Node.Tests/Logs/LogCrashTests.cs.
return args switch
{
    ["stress", var dataPath, var keyPem] => await StressAsync(dataPath, keyPem),
    ["measure", var folder] => await MeasureAsync(folder),
    ["mock-kafka", var seconds] => await MockKafkaAsync(int.Parse(seconds, CultureInfo.InvariantCulture)),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: stress <dataPath> <keyPem> | measure <folder> | mock-kafka <seconds>");
    return 2;
}

// Appends from 16 tasks until killed; prints "ack <seq> <exchangeId>" for every acknowledged record.
static async Task<int> StressAsync(string dataPath, string keyPem)
{
    using var key = ECDsa.Create();
    key.ImportFromPem(await File.ReadAllTextAsync(keyPem));
    using var folder = NodeDataFolder.Open(dataPath);
    await using var writer = new LogWriter(folder, "530100", key, new LogOptions { SegmentBytes = 256 * 1024, CheckpointEvery = 200 }, TimeProvider.System);
    var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
    var gate = new Lock();
    lock (gate)
    {
        output.WriteLine("ready");
    }

    await Task.WhenAll(Enumerable.Range(0, 16).Select(async worker =>
    {
        for (var i = 0; ; i++)
        {
            var id = $"crash-{worker}-{i}-{Guid.NewGuid():N}";
            var seq = await writer.AppendAsync(LogKind.Exchange, Record(id, i));
            lock (gate)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ack {seq} {id}"));
            }
        }
    }));
    return 0;
}

static LogRecord Record(string id, int i) => new()
{
    ExchangeId = id,
    Caller = "govshare:dept/530100/11530100MB0000001X",
    Kind = ExchangeKind.Pull,
    ResourceCode = "53010010000000" + (i % 16).ToString("D2", CultureInfo.InvariantCulture),
    Items = ["name", "idNumber"],
    Purpose = "social-assistance",
    Rows = i,
    Bytes = i * 100L,
    Status = 200,
};

// Durable-acknowledgement throughput: append-only file with group commit vs LiteDB insert + checkpoint.
static async Task<int> MeasureAsync(string root)
{
    const int count = 2000;
    Directory.CreateDirectory(root);
    foreach (var parallel in new[] { 1, 16, 64 })
    {
        var path = Path.Combine(root, "file-" + parallel);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var folder = NodeDataFolder.Open(path);
        await using var writer = new LogWriter(folder, "530100", key, new LogOptions(), TimeProvider.System);
        var watch = Stopwatch.StartNew();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (i, _) =>
            await writer.AppendAsync(LogKind.Exchange, Record("m-" + i.ToString(CultureInfo.InvariantCulture), i), CancellationToken.None));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"append-only file + fsync group commit, {parallel,2} appenders: {count / watch.Elapsed.TotalSeconds,8:F0} records/s"));
    }

    foreach (var parallel in new[] { 1, 16, 64 })
    {
        var path = Path.Combine(root, $"lite-{parallel}.db");
        using var db = new LiteDatabase(new ConnectionString { Filename = path, Connection = ConnectionType.Direct });
        var collection = db.GetCollection("log");
        var watch = Stopwatch.StartNew();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = parallel }, (i, _) =>
        {
            collection.Insert(new BsonDocument { ["seq"] = i, ["record"] = System.Text.Json.JsonSerializer.Serialize(Record("m-" + i.ToString(CultureInfo.InvariantCulture), i)) });
            db.Checkpoint();
            return ValueTask.CompletedTask;
        });
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"LiteDB insert + Checkpoint() per record,    {parallel,2} callers:   {count / watch.Elapsed.TotalSeconds,8:F0} records/s"));
    }

    return 0;
}

// Starts a mock cluster, ships 20 exchange records to it and keeps it up, so kcat can read the topic.
static async Task<int> MockKafkaAsync(int seconds)
{
    using var cluster = new KafkaMockCluster(brokers: 1);
    cluster.CreateTopic(KafkaOptions.Topic("530100", LogKind.Exchange), 8, 1);
    var path = Path.Combine(Path.GetTempPath(), "govshare-mock-kafka-" + Guid.NewGuid().ToString("N"));
    using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    using var folder = NodeDataFolder.Open(path);
    await using var writer = new LogWriter(folder, "530100", key, new LogOptions { CheckpointEvery = 10 }, TimeProvider.System);
    using var relay = new KafkaLogRelay(writer, Options.Create(new KafkaOptions { BootstrapServers = cluster.BootstrapServers, TopicReplicationFactor = 1 }), Options.Create(new LogOptions()), NullLogger<KafkaLogRelay>.Instance);
    await relay.StartAsync(CancellationToken.None);
    for (var i = 0; i < 20; i++)
    {
        await writer.AppendAsync(LogKind.Exchange, Record("kcat-" + i.ToString(CultureInfo.InvariantCulture), i));
    }

    while (relay.Shipped(LogKind.Exchange) < writer.DurableSequence(LogKind.Exchange))
    {
        await Task.Delay(100);
    }

    Console.WriteLine("bootstrap " + cluster.BootstrapServers);
    Console.WriteLine("topic " + KafkaOptions.Topic("530100", LogKind.Exchange));
    await Task.Delay(TimeSpan.FromSeconds(seconds));
    await relay.StopAsync(CancellationToken.None);
    await writer.DisposeAsync();
    folder.Dispose();
    Directory.Delete(path, recursive: true);
    return 0;
}
