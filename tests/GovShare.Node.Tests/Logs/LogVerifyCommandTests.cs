using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Confluent.Kafka;
using GovShare.Node.Logs;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Tests.Logs;

public sealed class LogVerifyCommandTests
{
    private static string CertificateFile(LogFolder folder)
    {
        var request = new CertificateRequest("CN=govshare:node/530100", folder.Key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var path = Path.Combine(folder.Path, "node.crt.pem");
        File.WriteAllText(path, certificate.ExportCertificatePem());
        return path;
    }

    private static async Task AppendAsync(LogFolder folder, int count, Func<OpenWriter, Task>? whileOpen = null, string? replica = null)
    {
        await using var open = folder.Open(new LogOptions { CheckpointEvery = 10 }, replica: replica);
        foreach (var i in Enumerable.Range(1, count))
        {
            await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i));
        }

        if (whileOpen is not null)
        {
            await whileOpen(open);
        }
    }

    [Fact]
    public async Task Run_LocalIntactLogWithCertificate_ExitsZero()
    {
        using var folder = new LogFolder();
        await AppendAsync(folder, 30);

        var outcome = LogVerifyCommand.Run(new LogVerifyRequest { DataPath = folder.Path, CertificatePath = CertificateFile(folder) });

        Assert.Equal(LogVerifyCommand.Verified, outcome.ExitCode);
        Assert.Contains("30 records", outcome.Message, StringComparison.Ordinal);
        Assert.Contains("signatures verified", outcome.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_LocalRecordDeleted_ExitsOneNamingIt()
    {
        using var folder = new LogFolder();
        await AppendAsync(folder, 30);
        var path = folder.Store.Segments(LogKind.Exchange).Single().Path;
        var lines = File.ReadAllLines(path).ToList();
        lines.RemoveAt(4);
        await File.WriteAllLinesAsync(path, lines);

        var outcome = LogVerifyCommand.Run(new LogVerifyRequest { DataPath = folder.Path });

        Assert.Equal(LogVerifyCommand.BadRecord, outcome.ExitCode);
        Assert.Contains("record 5 is missing", outcome.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_FolderOfSeveralReplicas_VerifiesEveryReplicasChainAndNamesTheBadOne()
    {
        // The folder all replicas of a node share: replicas/<replica>/ is each one's data folder.
        using var r1 = new LogFolder();
        using var r2 = new LogFolder();
        await AppendAsync(r1, 30);
        await AppendAsync(r2, 12);
        var shared = Path.Combine(Path.GetTempPath(), "govshare-replicas-" + Guid.NewGuid().ToString("N"));
        try
        {
            CopyFolder(r1.Path, Path.Combine(shared, "replicas", "r1"));
            CopyFolder(r2.Path, Path.Combine(shared, "replicas", "r2"));

            var intact = LogVerifyCommand.Run(new LogVerifyRequest { DataPath = shared });

            Assert.Equal(LogVerifyCommand.Verified, intact.ExitCode);
            Assert.Contains("replica r1: ", intact.Message, StringComparison.Ordinal);
            Assert.Contains("30 records", intact.Message, StringComparison.Ordinal);
            Assert.Contains("replica r2: ", intact.Message, StringComparison.Ordinal);
            Assert.Contains("12 records", intact.Message, StringComparison.Ordinal);

            var segment = Directory.GetFiles(Path.Combine(shared, "replicas", "r2", "logs", "exchange"), "segment-*.jsonl").Single();
            var lines = File.ReadAllLines(segment).ToList();
            lines.RemoveAt(4);
            await File.WriteAllLinesAsync(segment, lines);

            var tampered = LogVerifyCommand.Run(new LogVerifyRequest { DataPath = shared });

            Assert.Equal(LogVerifyCommand.BadRecord, tampered.ExitCode);
            Assert.Contains("replica r2: ", tampered.Message, StringComparison.Ordinal);
            Assert.Contains("record 5 is missing", tampered.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(shared, recursive: true);
        }
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (var directory in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(directory.Replace(from, to, StringComparison.Ordinal));
        }

        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, file.Replace(from, to, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Run_BadArguments_ExitsTwoListingEveryProblem()
    {
        var outcome = LogVerifyCommand.Run(new LogVerifyRequest { From = 0, To = -1, CertificatePath = "/nonexistent/node.pem" });

        Assert.Equal(LogVerifyCommand.Usage, outcome.ExitCode);
        var problems = outcome.Message.Split(Environment.NewLine);
        Assert.Equal(4, problems.Length);
        Assert.Contains(problems, p => p.Contains("Give a source", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("--from", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("--to", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("certificate", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Run_KafkaTopicShippedByRelay_ExitsZero()
    {
        using var cluster = new KafkaMockCluster(brokers: 1);
        var topic = KafkaOptions.Topic(LogFolder.Node, LogKind.Exchange);
        cluster.CreateTopic(topic, partitions: 8, replicationFactor: 1);
        using var folder = new LogFolder();
        await AppendAsync(folder, 50, async open =>
        {
            using var relay = new KafkaLogRelay(open.Writer, Options.Create(new KafkaOptions { BootstrapServers = cluster.BootstrapServers, TopicReplicationFactor = 1 }), Options.Create(new LogOptions()), NullLogger<KafkaLogRelay>.Instance);
            await relay.StartAsync(CancellationToken.None);
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (relay.Shipped(LogKind.Exchange) < open.Writer.DurableSequence(LogKind.Exchange))
            {
                Assert.True(DateTime.UtcNow < deadline, "relay did not ship");
                await Task.Delay(50);
            }

            await relay.StopAsync(CancellationToken.None);
        });

        var outcome = LogVerifyCommand.Run(new LogVerifyRequest { KafkaBootstrapServers = cluster.BootstrapServers, Topic = topic, CertificatePath = CertificateFile(folder), To = 55 });

        Assert.Equal(LogVerifyCommand.Verified, outcome.ExitCode);
        Assert.Equal(50, outcome.Verification!.RecordsChecked);
        Assert.Equal(5, outcome.Verification.CheckpointsChecked);
    }

    /// <summary>Runs the relay until everything durable in <paramref name="open"/> is in Kafka.</summary>
    private static async Task ShipAsync(KafkaMockCluster cluster, OpenWriter open)
    {
        using var relay = new KafkaLogRelay(open.Writer, Options.Create(new KafkaOptions { BootstrapServers = cluster.BootstrapServers, TopicReplicationFactor = 1 }), Options.Create(new LogOptions()), NullLogger<KafkaLogRelay>.Instance);
        await relay.StartAsync(CancellationToken.None);
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (relay.Shipped(LogKind.Exchange) < open.Writer.DurableSequence(LogKind.Exchange))
        {
            Assert.True(DateTime.UtcNow < deadline, "relay did not ship");
            await Task.Delay(50);
        }

        await relay.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Run_KafkaTopicOfSeveralReplicas_VerifiesEachChainAndNamesTheGapAndTheFork()
    {
        using var cluster = new KafkaMockCluster(brokers: 1);
        var topic = KafkaOptions.Topic(LogFolder.Node, LogKind.Exchange);
        cluster.CreateTopic(topic, partitions: 8, replicationFactor: 1);
        using var r1 = new LogFolder();
        using var r2 = new LogFolder();
        await AppendAsync(r1, 30, open => ShipAsync(cluster, open), replica: "r1");
        await AppendAsync(r2, 20, open => ShipAsync(cluster, open), replica: "r2");

        // Every replica's sequence starts at 1 in the one topic: told apart by the replica in the envelope.
        var intact = LogVerifyCommand.Run(new LogVerifyRequest { KafkaBootstrapServers = cluster.BootstrapServers, Topic = topic });

        Assert.Equal(LogVerifyCommand.Verified, intact.ExitCode);
        var lines = intact.Message.Split(Environment.NewLine);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("node 530100 replica r1: ", lines[0], StringComparison.Ordinal);
        Assert.Contains("30 records", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("node 530100 replica r2: ", lines[1], StringComparison.Ordinal);
        Assert.Contains("20 records", lines[1], StringComparison.Ordinal);
        Assert.Equal(50, intact.Verification!.RecordsChecked);

        // The local folders, as the shared volume holds them, each compared with its own chain in the topic.
        var shared = Path.Combine(Path.GetTempPath(), "govshare-replicas-" + Guid.NewGuid().ToString("N"));
        try
        {
            CopyFolder(r1.Path, Path.Combine(shared, "replicas", "r1"));
            CopyFolder(r2.Path, Path.Combine(shared, "replicas", "r2"));
            var compared = LogVerifyCommand.Run(new LogVerifyRequest { DataPath = shared, KafkaBootstrapServers = cluster.BootstrapServers, Topic = topic });
            Assert.True(compared.ExitCode == LogVerifyCommand.Verified, compared.Message);
            Assert.Contains("replica r1: The Exchange log: the local log verifies and its 33 records in Kafka", compared.Message, StringComparison.Ordinal);
            Assert.Contains("replica r2: The Exchange log: the local log verifies and its 22 records in Kafka", compared.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(shared, recursive: true);
        }

        // A third replica whose record 5 never reached the topic, and a second version of r2's record 7.
        var r2Entries = r2.Store.ReadEntries(LogKind.Exchange).ToList();
        var fork = LogEntry.Create(LogKind.Exchange, LogFolder.Node, 7, LogEntryType.Record, r2Entries[5].Hash, LogJson.Serialize(LogFolder.Exchange(99)), "r2");
        var r3 = new List<LogEntry>();
        var previous = LogEntry.GenesisHash;
        for (var seq = 1; seq <= 9; seq++)
        {
            var entry = LogEntry.Create(LogKind.Exchange, LogFolder.Node, seq, LogEntryType.Record, previous, LogJson.Serialize(LogFolder.Exchange(seq)), "r3");
            previous = entry.Hash;
            r3.Add(entry);
        }

        using (var producer = new ProducerBuilder<byte[]?, byte[]>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers }).Build())
        {
            foreach (var entry in r3.Where(e => e.Sequence != 5).Append(fork))
            {
                await producer.ProduceAsync(topic, new Message<byte[]?, byte[]> { Value = entry.Line.ToArray() });
            }
        }

        var bad = LogVerifyCommand.Run(new LogVerifyRequest { KafkaBootstrapServers = cluster.BootstrapServers, Topic = topic });

        Assert.Equal(LogVerifyCommand.BadRecord, bad.ExitCode);
        lines = bad.Message.Split(Environment.NewLine);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("node 530100 replica r1: ", lines[0], StringComparison.Ordinal);
        Assert.Contains("30 records", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("node 530100 replica r2: Sequence 7 of the Exchange log of node 530100 appears twice with different content", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("node 530100 replica r3: The Exchange log: record 5 is missing (the next present is 6)", lines[2], StringComparison.Ordinal);
        Assert.Equal(LogFault.ConflictingDuplicate, bad.Verification!.Fault);
        Assert.Equal("r2", bad.Verification.Replica);
    }
}
