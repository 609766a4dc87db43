using System.Text;
using Confluent.Kafka;
using GovShare.Node.Logs;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace GovShare.Node.Tests.Logs;

public sealed class KafkaLogRelayTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    private KafkaLogRelay Relay(LogWriter writer, KafkaMockCluster cluster) => new(
        writer,
        Options.Create(new KafkaOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            MessageTimeoutMs = 3000,
            TopicPartitions = 8,
            TopicReplicationFactor = (short)cluster.Brokers,
        }),
        Options.Create(new LogOptions()),
        new TestOutputLogger<KafkaLogRelay>(output));

    /// <summary>A one-broker mock cluster holding the exchange log's topic (8 partitions).</summary>
    private static KafkaMockCluster OneBrokerWithExchangeTopic(out string topic)
    {
        var cluster = new KafkaMockCluster(brokers: 1);
        topic = KafkaOptions.Topic(LogFolder.Node, LogKind.Exchange);
        cluster.CreateTopic(topic, partitions: 8, replicationFactor: 1);
        return cluster;
    }

    /// <summary>Polls a condition; the limit only turns a hang into a failure message, it asserts no speed.</summary>
    private static async Task Eventually(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "Gave up waiting: " + what);
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task Relay_AllBrokersDownLongerThanMessageTimeout_EveryRecordArrivesInOrderAndVerifies()
    {
        using var cluster = new KafkaMockCluster(brokers: 3);
        cluster.CreateTopic(KafkaOptions.Topic(LogFolder.Node, LogKind.Exchange), partitions: 8, replicationFactor: 3);
        using var folder = new LogFolder();
        const int total = 10_000;
        var resources = Enumerable.Range(0, 16).Select(r => $"53010010000000{r:D2}").ToArray();
        // Small segments: the relay's reader also follows rotations and archiving meanwhile.
        await using var open = folder.Open(new LogOptions { SegmentBytes = 256 * 1024 });
        using var relay = Relay(open.Writer, cluster);
        await relay.StartAsync(CancellationToken.None);

        await AppendAsync(open.Writer, 0, 2000, resources);
        await Eventually(() => relay.Shipped(LogKind.Exchange) > 0, "first records shipped");

        cluster.SetAllDown();
        await AppendAsync(open.Writer, 2000, total, resources);
        await Eventually(() => relay.DeliveryFailures > 0, "a delivery to fail after message.timeout.ms");
        var shippedWhileDown = relay.Shipped(LogKind.Exchange);
        cluster.SetAllUp();

        var last = open.Writer.DurableSequence(LogKind.Exchange);
        await Eventually(() => relay.Shipped(LogKind.Exchange) == last, "every record shipped after the brokers came back");
        await relay.StopAsync(CancellationToken.None);

        Assert.True(shippedWhileDown < last, "the outage happened while records were unshipped");
        var copy = KafkaLogReader.ReadTopic(cluster.BootstrapServers, KafkaOptions.Topic(LogFolder.Node, LogKind.Exchange), TimeSpan.FromMinutes(1));
        Assert.Empty(copy.Unreadable);
        // Keep the first copy of each sequence: per key the sequences must then rise.
        var dedup = new LogDeduplicator();
        var firsts = copy.Entries.Where(e => dedup.Add(e) == DeduplicationOutcome.New).ToList();
        Assert.Equal(last, firsts.Count);
        Assert.Equal(total, firsts.Count(e => e.Type == LogEntryType.Record));
        foreach (var byKey in firsts.Where(e => e.Type == LogEntryType.Record).GroupBy(e => e.Record!.ResourceCode))
        {
            var sequences = byKey.Select(e => e.Sequence).ToList();
            Assert.Equal(sequences.Order(), sequences);
        }

        var result = LogVerifier.VerifyCopy(copy.Entries, LogKind.Exchange, LogFolder.Node, folder.Key);
        Assert.True(result.Ok, result.Message);
        Assert.Equal(total, result.RecordsChecked);
        Assert.NotEmpty(folder.Store.ArchiveIndex(LogKind.Exchange));
    }

    [Fact]
    public async Task Relay_Restart_SendsOnlyWhatWasNotConfirmedAndHeadersNameTheRecord()
    {
        using var cluster = new KafkaMockCluster(brokers: 1);
        cluster.CreateTopic(KafkaOptions.Topic(LogFolder.Node, LogKind.Change), partitions: 8, replicationFactor: 1);
        using var folder = new LogFolder();
        await using (var open = folder.Open())
        {
            using (var relay = Relay(open.Writer, cluster))
            {
                await relay.StartAsync(CancellationToken.None);
                await AppendAsync(open.Writer, 0, 100, ["5301001000000001"], LogKind.Change);
                await Eventually(() => relay.Shipped(LogKind.Change) == 100, "first 100 shipped");
                await relay.StopAsync(CancellationToken.None);
            }

            // Written while no relay runs.
            await AppendAsync(open.Writer, 100, 150, ["5301001000000001"], LogKind.Change);
            using (var relay = Relay(open.Writer, cluster))
            {
                Assert.Equal(100, relay.Shipped(LogKind.Change));
                await relay.StartAsync(CancellationToken.None);
                await Eventually(() => relay.Shipped(LogKind.Change) == 150, "the rest shipped after restart");
                await relay.StopAsync(CancellationToken.None);
            }
        }

        var topic = KafkaOptions.Topic(LogFolder.Node, LogKind.Change);
        var copy = KafkaLogReader.ReadTopic(cluster.BootstrapServers, topic, TimeSpan.FromMinutes(1));
        Assert.Equal(Enumerable.Range(1, 150).Select(i => (long)i), copy.Entries.Select(e => e.Sequence).Order());
        Assert.True(LogVerifier.VerifyCopy(copy.Entries, LogKind.Change, LogFolder.Node, folder.Key).Ok);

        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig { BootstrapServers = cluster.BootstrapServers, GroupId = "t" }).Build();
        consumer.Assign(Enumerable.Range(0, 8).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var message = consumer.Consume(TimeSpan.FromSeconds(30))!.Message;
        while (Encoding.ASCII.GetString(message.Headers.GetLastBytes(KafkaLogRelay.SequenceHeader)) != "1")
        {
            message = consumer.Consume(TimeSpan.FromSeconds(30))!.Message;
        }
        Assert.Equal("5301001000000001", message.Key);
        Assert.Equal(LogFolder.Node, Encoding.ASCII.GetString(message.Headers.GetLastBytes(KafkaLogRelay.NodeHeader)));
        Assert.Equal("change", Encoding.ASCII.GetString(message.Headers.GetLastBytes(KafkaLogRelay.LogHeader)));
        Assert.Equal("1", Encoding.ASCII.GetString(message.Headers.GetLastBytes(KafkaLogRelay.SequenceHeader)));
        Assert.StartsWith("""{"log":"change","node":"530100","seq":1,"type":"record","prev":"0000""", message.Value, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Relay_OneMessageObjectPerLog_EachMessageCarriesItsOwnRecordsKeyAndHeaders()
    {
        // The relay fills one message and one set of headers again for every record (Outgoing), and
        // remembers keys' bytes (KeyBytes): had the producer kept a reference instead of copying,
        // messages would carry another record's key, sequence or line. Sequences of 1 to 4 digits.
        using var cluster = OneBrokerWithExchangeTopic(out var topic);
        using var folder = new LogFolder();
        var resources = Enumerable.Range(0, 7).Select(r => $"53010010000000{r:D2}").ToArray();
        const int total = 1500;
        await using (var open = folder.Open())
        {
            using var relay = Relay(open.Writer, cluster);
            await relay.StartAsync(CancellationToken.None);
            await AppendAsync(open.Writer, 0, total, resources);
            var last = open.Writer.DurableSequence(LogKind.Exchange);
            await Eventually(() => relay.Shipped(LogKind.Exchange) == last, "every record shipped");
            await relay.StopAsync(CancellationToken.None);
        }

        using var consumer = new ConsumerBuilder<string?, byte[]>(new ConsumerConfig { BootstrapServers = cluster.BootstrapServers, GroupId = "t" }).Build();
        consumer.Assign(Enumerable.Range(0, 8).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var records = 0;
        var sequences = new HashSet<long>();
        while (consumer.Consume(TimeSpan.FromSeconds(10)) is { Message: { } message })
        {
            var entry = LogEntry.TryParse(message.Value);
            Assert.NotNull(entry);
            Assert.Equal(entry.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture), Encoding.ASCII.GetString(message.Headers.GetLastBytes(KafkaLogRelay.SequenceHeader)));
            Assert.Equal(entry.Node, Encoding.ASCII.GetString(message.Headers.GetLastBytes(KafkaLogRelay.NodeHeader)));
            Assert.Equal("exchange", Encoding.ASCII.GetString(message.Headers.GetLastBytes(KafkaLogRelay.LogHeader)));
            Assert.Equal(3, message.Headers.Count);
            Assert.Equal(entry.Type == LogEntryType.Record ? entry.Record!.ResourceCode : null, message.Key);
            records += entry.Type == LogEntryType.Record ? 1 : 0;
            sequences.Add(entry.Sequence);
        }

        Assert.Equal(total, records);
        Assert.Contains(9, sequences);
        Assert.Contains(1000, sequences);
    }

    [Fact]
    public async Task ProduceAsync_ReusedMessage_AllocatesOnlyWhatTheProducerMakesPerMessage()
    {
        // The relay's side of a message: Confluent's delivery shim and the three header names' UTF-8
        // bytes (made inside Produce) remain; the message, its header list, its three headers, the
        // sequence's array and the key's bytes no longer (~500 B a message before, ~340 of them these).
        using var cluster = OneBrokerWithExchangeTopic(out var topic);
        using var folder = new LogFolder();
        await using var open = folder.Open();
        await AppendAsync(open.Writer, 0, 600, ["5301001000000001", "5301001000000002"]);
        using var cursor = new LogCursor(folder.Store, LogKind.Exchange, 1, null);
        // Each line in an array of its own, as the writer's hand-over gives them (a line read from a file is copied, WholeLine).
        List<LogEntry> batch = [.. cursor.Read(1000, open.Writer.DurableSequence(LogKind.Exchange)).Select(e => LogEntry.TryParse(e.Line.ToArray())!)];
        using var relay = Relay(open.Writer, cluster);
        using var producer = new ProducerBuilder<string?, byte[]>(relay.ProducerSettings()).SetKeySerializer(new KafkaLogRelay.KeyBytes()).Build();
        var deliveries = new KafkaLogRelay.Deliveries();
        var outgoing = new KafkaLogRelay.Outgoing(LogKind.Exchange);
        var partition = new TopicPartition(topic, Partition.Any);
        var warm = await KafkaLogRelay.ProduceAsync(producer, deliveries, outgoing, partition, batch);
        Assert.Equal((batch.Count, (string?)null), warm);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var produced = KafkaLogRelay.ProduceAsync(producer, deliveries, outgoing, partition, batch); // every Produce runs before the first await
        var perMessage = (GC.GetAllocatedBytesForCurrentThread() - before) / (double)batch.Count;
        Assert.Equal((batch.Count, (string?)null), await produced);

        output.WriteLine($"{perMessage:F0} B a message on the relay's thread ({batch.Count} messages)");
        // The delivery shim (~56 B) and three header names (~32 B each), with room for Confluent's own changes.
        Assert.True(perMessage < 250, $"{perMessage:F0} B a message");
    }

    [Fact]
    public async Task TopicSpecification_DefaultLogOptions_KeepsRecordsAtLeastTenYears()
    {
        using var cluster = new KafkaMockCluster(brokers: 1);
        using var folder = new LogFolder();
        await using var open = folder.Open();
        using var relay = Relay(open.Writer, cluster);

        var spec = relay.TopicSpecification("govshare.530100.exchange");

        Assert.True(long.Parse(spec.Configs["retention.ms"], System.Globalization.CultureInfo.InvariantCulture) >= (long)TimeSpan.FromDays(3652).TotalMilliseconds);
        Assert.Equal(8, spec.NumPartitions);
    }

    [Fact]
    public async Task Deliveries_HandlersReusedAcrossBatches_EachBatchWaitsForItsOwnReportsOnly()
    {
        var deliveries = new KafkaLogRelay.Deliveries();
        static DeliveryReport<string?, byte[]> Report(ErrorCode code) => new() { Error = new Error(code) };

        deliveries.Begin(3);
        var handlers = Enumerable.Range(0, 3).Select(deliveries.Handler).ToList();
        handlers[2](Report(ErrorCode.NoError));
        handlers[0](Report(ErrorCode.NoError));
        var first = deliveries.EndAsync(3);
        Assert.False(first.IsCompleted); // the report of message 1 is missing
        handlers[1](Report(ErrorCode.Local_MsgTimedOut));
        await first.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False(deliveries.Error(0)!.IsError);
        Assert.Equal(ErrorCode.Local_MsgTimedOut, deliveries.Error(1)!.Code);

        // The next batch: the same handlers, the results of the last batch gone; two of three produced
        // (the producer refused the third, which will never be reported), so two reports complete it.
        deliveries.Begin(3);
        Assert.Same(handlers[1], deliveries.Handler(1));
        Assert.Null(deliveries.Error(1));
        handlers[0](Report(ErrorCode.NoError));
        var second = deliveries.EndAsync(2);
        Assert.False(second.IsCompleted);
        handlers[1](Report(ErrorCode.NoError));
        await second.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False(deliveries.Error(1)!.IsError);
        Assert.Null(deliveries.Error(2));
    }

    [Fact]
    public async Task ProducerSettings_LingerFromKafkaProducerOrTheRelaysDefault_DeliverySettingsNotOverridable()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open();
        KafkaLogRelay With(Dictionary<string, string> producer) => new(open.Writer, Options.Create(new KafkaOptions { BootstrapServers = "localhost:1", Producer = producer }), Options.Create(new LogOptions()), NullLogger<KafkaLogRelay>.Instance);

        using var plain = With([]);
        using var lingering = With(new() { ["linger.ms"] = "7", ["acks"] = "1", ["enable.idempotence"] = "false" });
        using var aliased = With(new() { ["queue.buffering.max.ms"] = "3" });

        Assert.Equal(KafkaLogRelay.LingerMs, plain.ProducerSettings().LingerMs);
        Assert.Equal(7, lingering.ProducerSettings().LingerMs);
        Assert.Equal("3", aliased.ProducerSettings().Get("queue.buffering.max.ms"));
        Assert.Null(aliased.ProducerSettings().LingerMs);
        // What at-least-once delivery rests on stays the relay's, whatever Kafka:Producer says.
        Assert.Equal(Acks.All, lingering.ProducerSettings().Acks);
        Assert.True(lingering.ProducerSettings().EnableIdempotence);
        Assert.Equal("none", lingering.ProducerSettings().DeliveryReportFields);
    }

    [Fact]
    public async Task Constructor_WithoutBootstrapServers_IsRefused()
    {
        using var folder = new LogFolder();
        await using var open = folder.Open();

        var ex = Assert.Throws<ArgumentException>(() => new KafkaLogRelay(open.Writer, Options.Create(new KafkaOptions()), Options.Create(new LogOptions()), NullLogger<KafkaLogRelay>.Instance));

        Assert.Contains("Kafka:BootstrapServers", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyAgainstKafka_LocalLogRewrittenAfterShipping_NamesTheLowestDivergingSequence_AndTheNodeRefusesIt()
    {
        using var cluster = new KafkaMockCluster(brokers: 1);
        cluster.CreateTopic(KafkaOptions.Topic(LogFolder.Node, LogKind.Exchange), partitions: 8, replicationFactor: 1);
        using var folder = new LogFolder();
        await using (var open = folder.Open())
        {
            using var relay = Relay(open.Writer, cluster);
            await relay.StartAsync(CancellationToken.None);
            await AppendAsync(open.Writer, 0, 20, ["5301001000000001"]);
            await Eventually(() => relay.Shipped(LogKind.Exchange) == 20, "20 records shipped");
            await relay.StopAsync(CancellationToken.None);
        }

        // Records 7 onwards replaced by a self-consistent forgery: valid hashes, valid links.
        var path = folder.Store.Segments(LogKind.Exchange).Single().Path;
        var lines = (await File.ReadAllLinesAsync(path)).Take(6).ToList();
        var previous = LogEntry.TryParse(Encoding.UTF8.GetBytes(lines[^1]))!;
        for (var seq = 7L; seq <= 20; seq++)
        {
            var forged = LogEntry.Create(LogKind.Exchange, LogFolder.Node, seq, LogEntryType.Record, previous.Hash,
                System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(LogFolder.Exchange((int)seq + 500), LogJson.Options));
            lines.Add(Encoding.UTF8.GetString(forged.Line.Span));
            previous = forged;
        }

        await File.WriteAllLinesAsync(path, lines);

        var outcome = LogVerifyCommand.Run(new LogVerifyRequest
        {
            Log = LogKind.Exchange,
            DataPath = folder.Path,
            KafkaBootstrapServers = cluster.BootstrapServers,
            Node = LogFolder.Node,
            KafkaTimeout = TimeSpan.FromMinutes(1),
        });

        Assert.Equal(LogVerifyCommand.BadRecord, outcome.ExitCode);
        Assert.Equal(7, outcome.Verification!.Sequence);
        Assert.Contains("diverges from its Kafka copy", outcome.Message, StringComparison.Ordinal);
        Assert.Contains("at sequence 7", outcome.Message, StringComparison.Ordinal);
        // The writer refuses it too: what Kafka confirmed is not what the log now says.
        Assert.Throws<LogCorruptedException>(() => folder.Open());
    }

    [Fact]
    public async Task Relay_WatermarkFile_WrittenOncePerIntervalWhenCaughtUpAndAtStop()
    {
        using var cluster = new KafkaMockCluster(brokers: 1);
        using var folder = new LogFolder();
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        await using var open = folder.Open();
        using var relay = new KafkaLogRelay(
            open.Writer,
            Options.Create(new KafkaOptions
            {
                BootstrapServers = cluster.BootstrapServers,
                MessageTimeoutMs = 3000,
                TopicPartitions = 8,
                TopicReplicationFactor = (short)cluster.Brokers,
                WatermarkInterval = TimeSpan.FromSeconds(1),
            }),
            Options.Create(new LogOptions()),
            new TestOutputLogger<KafkaLogRelay>(output),
            clock);
        await relay.StartAsync(CancellationToken.None);

        await AppendAsync(open.Writer, 0, 10, ["5301001000000001"]);
        await Eventually(() => relay.Shipped(LogKind.Exchange) == 10, "10 shipped");
        // Confirmed, but the interval (on the relay's clock, which stands still) is not over: no file yet.
        Assert.Null(LogStore.ReadWatermark(open.Writer.Store, LogKind.Exchange));

        clock.Advance(TimeSpan.FromSeconds(1));
        await Eventually(() => LogStore.ReadWatermark(open.Writer.Store, LogKind.Exchange)?.Sequence == 10, "the caught-up relay wrote its watermark after the interval");

        await AppendAsync(open.Writer, 10, 25, ["5301001000000001"]);
        await Eventually(() => relay.Shipped(LogKind.Exchange) == 25, "25 shipped");
        Assert.Equal(10, LogStore.ReadWatermark(open.Writer.Store, LogKind.Exchange)!.Value.Sequence);

        await relay.StopAsync(CancellationToken.None);
        var stopped = LogStore.ReadWatermark(open.Writer.Store, LogKind.Exchange)!.Value;
        Assert.Equal(25, stopped.Sequence);
        Assert.Equal(open.Writer.Store.ReadEntries(LogKind.Exchange).Single(e => e.Sequence == 25).Hash, stopped.Hash);
    }

    [Fact]
    public void Options_WatermarkIntervalOutsideZeroToTenSeconds_Refused()
    {
        Assert.Contains(new KafkaOptions { BootstrapServers = "x:9092", WatermarkInterval = TimeSpan.FromSeconds(11) }.Validate(), e => e.Contains("WatermarkInterval", StringComparison.Ordinal));
        Assert.Contains(new KafkaOptions { BootstrapServers = "x:9092", WatermarkInterval = TimeSpan.FromSeconds(-1) }.Validate(), e => e.Contains("WatermarkInterval", StringComparison.Ordinal));
        Assert.Empty(new KafkaOptions { BootstrapServers = "x:9092", WatermarkInterval = TimeSpan.Zero }.Validate());
    }

    private static async Task AppendAsync(LogWriter writer, int from, int to, string[] resources, LogKind log = LogKind.Exchange)
    {
        // 32 appenders at a time, so group commit is exercised the way a busy node does.
        var next = from;
        await Task.WhenAll(Enumerable.Range(0, 32).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next) - 1) < to)
            {
                var record = log == LogKind.Change ? LogFolder.Change(i) : LogFolder.Exchange(i, resources[i % resources.Length]);
                await writer.AppendAsync(log, record);
            }
        }));
    }
}
