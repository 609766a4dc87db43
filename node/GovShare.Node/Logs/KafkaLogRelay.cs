using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using GovShare.Node.Kernel;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Logs;

/// <summary>
/// Ships the three logs to <c>govshare.&lt;division&gt;.&lt;log&gt;</c>, keyed by resource code,
/// with an idempotent producer and acks=all. A record counts as shipped only when its delivery
/// report says so; the shipped-up-to watermark of each log is kept on disk, so after a restart
/// or a failed delivery everything after it is sent again (consumers de-duplicate by
/// node, replica, log and sequence). Only records already fsync'd locally are shipped.
/// </summary>
public sealed class KafkaLogRelay : NodeBackgroundService
{
    /// <summary>Kafka header names on every message.</summary>
    public const string NodeHeader = "govshare-node";
    public const string LogHeader = "govshare-log";
    public const string SequenceHeader = "govshare-seq";

    /// <summary>Only on entries of a replica's chain (<see cref="LogEntry.Replica"/>); the value's <c>replica</c> is what is hashed.</summary>
    public const string ReplicaHeader = "govshare-replica";

    /// <summary>
    /// librdkafka's <c>linger.ms</c> unless <c>Kafka:Producer</c> names one. The relay hands a batch
    /// over and waits for its delivery reports before it takes the next, so each wait already
    /// gathers what the writer made durable meanwhile; the linger sets how large those batches
    /// grow. The producer's broker thread and the delivery reports cost mostly per request and per
    /// wake-up, not per record (poll, sendmsg, recvmsg): at 5 ms a one-row pull paid about 11 µs of
    /// the broker thread's CPU (issue 20, benchmarks/results/profile-small-exchanges.txt,
    /// fix/logpath10). A record is durable on the node before it is relayed, so this delays only
    /// its copy in Kafka, never an answer; delivery stays at least once.
    /// </summary>
    internal const double LingerMs = 50;

    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);
    private readonly LogWriter _writer;
    private readonly KafkaOptions _kafka;
    private readonly LogOptions _logs;
    private readonly ILogger<KafkaLogRelay> _logger;
    private readonly TimeProvider _time;
    private readonly Lock _producerLock = new();
    private readonly Dictionary<LogKind, long> _shipped = [];
    private readonly Dictionary<LogKind, string?> _shippedHash = [];
    private IProducer<string?, byte[]>? _producer;
    private bool _producerFatal;
    private long _deliveryFailures;

    public KafkaLogRelay(LogWriter writer, IOptions<KafkaOptions> kafka, IOptions<LogOptions> logs, ILogger<KafkaLogRelay> logger)
        : this(writer, kafka, logs, logger, TimeProvider.System)
    {
    }

    /// <summary>With the clock that times the watermark file's writes (tests; the node uses real time, whatever clock its other parts are given).</summary>
    internal KafkaLogRelay(LogWriter writer, IOptions<KafkaOptions> kafka, IOptions<LogOptions> logs, ILogger<KafkaLogRelay> logger, TimeProvider time)
    {
        _time = time;
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(kafka);
        ArgumentNullException.ThrowIfNull(logs);
        _writer = writer;
        _kafka = kafka.Value;
        _logs = logs.Value;
        _logger = logger;
        var errors = _kafka.Validate();
        if (!_kafka.Enabled || errors.Count > 0)
        {
            throw new ArgumentException(_kafka.Enabled ? string.Join(" ", errors) : "Kafka:BootstrapServers is not set.", nameof(kafka));
        }

        foreach (var log in Enum.GetValues<LogKind>())
        {
            var watermark = LogStore.ReadWatermark(_writer.Store, log);
            _shipped[log] = watermark?.Sequence ?? 0;
            _shippedHash[log] = watermark?.Hash;
        }
    }

    /// <summary>Deliveries that failed and were retried, since start (for health and tests).</summary>
    public long DeliveryFailures => Interlocked.Read(ref _deliveryFailures);

    /// <summary>The sequence up to which a log is confirmed by Kafka.</summary>
    public long Shipped(LogKind log)
    {
        lock (_shipped)
        {
            return _shipped[log];
        }
    }

    protected override Task RunAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enum.GetValues<LogKind>().Select(log => Task.Run(() => RelayAsync(log, stoppingToken), stoppingToken)));

    private async Task RelayAsync(LogKind log, CancellationToken stoppingToken)
    {
        var topic = KafkaOptions.Topic(_writer.Node, log);
        var topicReady = false;
        // What the writer makes durable from now on, handed over in memory: a group is shipped as
        // the writer built it, not read back and parsed. The cursor reads the files for the rest
        // (what was durable before, what the hand-over dropped, what a failed delivery sends again).
        using var follower = _writer.Follow(log);
        var held = new List<(LogEntry Entry, LogPosition At)>();
        // Made once for every message of the log (the producer's Produce(topic, ...) makes one a message).
        var anyPartition = new TopicPartition(topic, Partition.Any);
        var deliveries = new Deliveries();
        var outgoing = new Outgoing(log);
        LogPosition? shippedAt = null;
        LogCursor? cursor = null;
        // Confirmed by Kafka but not yet in the watermark file, which is replaced at most every
        // Kafka:WatermarkInterval (two fsyncs each time: per relayed batch they were a small
        // exchange's largest cost after its own record).
        LogEntry? unwritten = null;
        var written = _time.GetTimestamp();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    topicReady = topicReady || await EnsureTopicAsync(topic).ConfigureAwait(false);
                    var shipped = Shipped(log);
                    var durable = _writer.DurableSequence(log);
                    if (durable <= shipped)
                    {
                        if (unwritten is null)
                        {
                            await _writer.WaitForDurableAsync(log, shipped, stoppingToken).ConfigureAwait(false);
                            continue;
                        }

                        // Caught up: the file follows once the interval since its last write is over.
                        var due = _kafka.WatermarkInterval - _time.GetElapsedTime(written);
                        if (due <= TimeSpan.Zero)
                        {
                            WriteWatermark(log, unwritten);
                            unwritten = null;
                            written = _time.GetTimestamp();
                            continue;
                        }

                        using var interval = new CancellationTokenSource(due, _time);
                        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, interval.Token);
                        try
                        {
                            await _writer.WaitForDurableAsync(log, shipped, wait.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                        {
                            // The interval is over: the loop writes the file.
                        }

                        continue;
                    }

                    held.Clear();
                    List<LogEntry> batch;
                    if (follower.Take(shipped + 1, durable, _kafka.BatchSize, held) > 0)
                    {
                        batch = [.. held.Select(h => h.Entry)];
                        cursor?.Dispose(); // Passed by: a later read starts where the hand-over left off.
                        cursor = null;
                    }
                    else
                    {
                        cursor ??= new LogCursor(_writer.Store, log, shipped + 1, shippedAt);
                        batch = cursor.Read(_kafka.BatchSize, durable);
                    }

                    if (batch.Count == 0)
                    {
                        await Task.Delay(RetryDelay, stoppingToken).ConfigureAwait(false);
                        continue;
                    }

                    if (ShippedHash(log) is { } confirmedHash && batch[0].Sequence == shipped + 1 && batch[0].PreviousHash != confirmedHash)
                    {
                        // The record after the last one Kafka confirmed does not link to it: the local
                        // log was rewritten since. Shipping it would put a second version of the chain
                        // in Kafka, so nothing more of this log is shipped (start-up refuses it too).
                        LogsDiagnostics.RelayDiverged(_logger, log, batch[0].Sequence);
                        cursor?.Dispose();
                        cursor = null;
                        await Task.Delay(TimeSpan.FromSeconds(30), stoppingToken).ConfigureAwait(false);
                        continue;
                    }

                    var (confirmed, failure) = await ProduceAsync(Producer(), deliveries, outgoing, anyPartition, batch).ConfigureAwait(false);
                    if (confirmed > 0)
                    {
                        var last = batch[confirmed - 1];
                        SetShipped(log, last);
                        shippedAt = held.Count > 0 ? held[confirmed - 1].At : null;
                        if (_time.GetElapsedTime(written) >= _kafka.WatermarkInterval)
                        {
                            WriteWatermark(log, last);
                            unwritten = null;
                            written = _time.GetTimestamp();
                        }
                        else
                        {
                            unwritten = last;
                        }

                        LogsDiagnostics.RelayShipped(_logger, log, last.Sequence);
                    }

                    if (failure is not null)
                    {
                        Interlocked.Increment(ref _deliveryFailures);
                        LogsDiagnostics.RelayDeliveryFailed(_logger, batch.Count - confirmed, log, batch[confirmed].Sequence, failure);
                        // Everything after the confirmed prefix goes again, in order.
                        cursor?.Dispose();
                        cursor = null;
                        await Task.Delay(RetryDelay, stoppingToken).ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogsDiagnostics.RelayFailed(_logger, ex, log);
                    cursor?.Dispose();
                    cursor = null;
                    shippedAt = null;
                    await Task.Delay(RetryDelay, stoppingToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: unshipped records are sent after the next start.
        }
        finally
        {
            cursor?.Dispose();
            if (unwritten is not null)
            {
                try
                {
                    WriteWatermark(log, unwritten); // Stopping: the file says everything Kafka confirmed.
                }
                catch (IOException ex)
                {
                    LogsDiagnostics.RelayFailed(_logger, ex, log); // Those records are sent again after the next start.
                }
            }
        }
    }

    /// <summary>Produces a batch; returns how many from its start are confirmed, and why the next one failed.</summary>
    internal static async Task<(int Confirmed, string? Failure)> ProduceAsync(IProducer<string?, byte[]> producer, Deliveries deliveries, Outgoing outgoing, TopicPartition topic, List<LogEntry> batch)
    {
        deliveries.Begin(batch.Count);
        var produced = 0;
        string? produceFailure = null;
        try
        {
            for (; produced < batch.Count; produced++)
            {
                try
                {
                    producer.Produce(topic, outgoing.For(batch[produced]), deliveries.Handler(produced));
                }
                catch (Exception ex) when (ex is KafkaException or InvalidOperationException)
                {
                    produceFailure = ex.Message;
                    break;
                }
            }
        }
        finally
        {
            // Every report of this batch is in before the relay takes the next one, also when making a
            // message threw (a record that does not read): the next batch uses the same handlers.
            await deliveries.EndAsync(produced).ConfigureAwait(false);
        }

        for (var i = 0; i < produced; i++)
        {
            if (deliveries.Error(i) is { IsError: true } error)
            {
                return (i, error.Reason);
            }
        }

        return (produced, produceFailure);
    }

    /// <summary>
    /// The message a log's records go out in: one <see cref="Message{TKey, TValue}"/> and its headers,
    /// made once per log and filled again for every record, instead of a message, a header list,
    /// three headers and the sequence's array a record. Safe because the producer copies all of it
    /// while <c>Produce</c> runs and keeps none of it: Confluent.Kafka hands the value and key to
    /// librdkafka with <c>RD_KAFKA_MSG_F_COPY</c> and each header through <c>rd_kafka_header_add</c>,
    /// which copies name and value (librdkafka's documented behaviour of both), and with
    /// <c>DeliveryReportFields = "none"</c> (<see cref="ProducerSettings"/>) its delivery shim keeps
    /// neither key nor value. Used by one log's relay loop only (one thread at a time).
    /// KafkaLogRelayTests checks every consumed message against its own record.
    /// </summary>
    internal sealed class Outgoing
    {
        private readonly Message<string?, byte[]> _message = new();
        private readonly Headers _headers = [];
        private readonly Headers _replicaHeaders = [];
        private readonly Value _node = new(NodeHeader);
        private readonly Value _sequence = new(SequenceHeader);
        private readonly Value _replica = new(ReplicaHeader);

        // The sequence's digits, one array per length (librdkafka copies them; the next record overwrites them).
        private readonly byte[]?[] _digits = new byte[]?[20];
        private string? _nodeName;

        public Outgoing(LogKind log)
        {
            var logName = new Value(LogHeader) { Bytes = Encoding.ASCII.GetBytes(LogEntry.LogName(log)) };
            foreach (var headers in new[] { _headers, _replicaHeaders })
            {
                headers.Add(_node);
                headers.Add(logName);
                headers.Add(_sequence);
            }

            _replicaHeaders.Add(_replica);
        }

        /// <summary>The message of <paramref name="entry"/>, valid until the next call.</summary>
        public Message<string?, byte[]> For(LogEntry entry)
        {
            if (!string.Equals(entry.Node, _nodeName, StringComparison.Ordinal))
            {
                _nodeName = entry.Node;
                _node.Bytes = Encoding.ASCII.GetBytes(entry.Node);
            }

            Span<byte> digits = stackalloc byte[20];
            System.Buffers.Text.Utf8Formatter.TryFormat(entry.Sequence, digits, out var length);
            var sequence = _digits[length - 1] ??= new byte[length];
            digits[..length].CopyTo(sequence);
            _sequence.Bytes = sequence;

            _message.Key = entry.Type == LogEntryType.Record ? entry.Record?.ResourceCode : null;
            _message.Value = WholeLine(entry);
            if (entry.Replica is { } replica)
            {
                _replica.Bytes = Encoding.ASCII.GetBytes(replica);
                _message.Headers = _replicaHeaders;
            }
            else
            {
                _message.Headers = _headers;
            }

            return _message;
        }

        /// <summary>A header whose value is set again for each record.</summary>
        private sealed class Value(string key) : IHeader
        {
            public string Key { get; } = key;

            public byte[] Bytes { get; set; } = [];

            public byte[] GetValueBytes() => Bytes;
        }
    }

    /// <summary>
    /// The key's UTF-8 bytes, remembered per resource code (a node's catalogue is a few hundred to a
    /// few thousand codes) instead of encoded again for every record; librdkafka copies them while
    /// <c>Produce</c> runs. At most <see cref="Remembered"/> codes are kept: a record's resource
    /// code can come from a caller (a refusal names what was asked for), so past that the bytes
    /// are made per record as before. Shared by the three logs' loops, hence concurrent.
    /// </summary>
    internal sealed class KeyBytes : ISerializer<string?>
    {
        internal const int Remembered = 4096;
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte[]> _bytes = new(StringComparer.Ordinal);

        public byte[]? Serialize(string? data, SerializationContext context)
        {
            if (data is null)
            {
                return null;
            }

            if (_bytes.TryGetValue(data, out var bytes))
            {
                return bytes;
            }

            bytes = Encoding.UTF8.GetBytes(data);
            if (_bytes.Count < Remembered)
            {
                _bytes.TryAdd(data, bytes);
            }

            return bytes;
        }
    }

    /// <summary>
    /// The delivery reports of one log's batches: one handler per position in a batch, made once and
    /// used again by every later batch, instead of a closure and a delegate per message. Safe to share
    /// because the relay takes a log's next batch only after every report of the last one came in
    /// (<see cref="EndAsync"/>): no report of an earlier batch can land in a later one's results.
    /// </summary>
    internal sealed class Deliveries
    {
        private readonly List<Action<DeliveryReport<string?, byte[]>>> _handlers = [];
        private Error?[] _results = [];
        private int _count;
        private int _outstanding;
        private TaskCompletionSource _done = new();

        /// <summary>Starts a batch of <paramref name="count"/> messages.</summary>
        public void Begin(int count)
        {
            if (_results.Length < count)
            {
                _results = new Error?[count];
            }

            Array.Clear(_results, 0, count);
            _count = count;
            _outstanding = count;
            _done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        /// <summary>The report handler of the message at <paramref name="index"/> of the batch.</summary>
        public Action<DeliveryReport<string?, byte[]>> Handler(int index)
        {
            while (_handlers.Count <= index)
            {
                var at = _handlers.Count;
                _handlers.Add(report => Report(at, report.Error));
            }

            return _handlers[index];
        }

        /// <summary>Waits for the reports of the <paramref name="produced"/> messages handed to the producer (the others will not be reported).</summary>
        public Task EndAsync(int produced)
        {
            if (Interlocked.Add(ref _outstanding, produced - _count) == 0)
            {
                _done.TrySetResult();
            }

            return _done.Task;
        }

        /// <summary>The report of the message at <paramref name="index"/> (null when none came).</summary>
        public Error? Error(int index) => _results[index];

        private void Report(int index, Error error)
        {
            _results[index] = error;
            if (Interlocked.Decrement(ref _outstanding) == 0)
            {
                _done.TrySetResult();
            }
        }
    }

    /// <summary>
    /// The entry's line as one array: the writer's entries own an array of exactly their line
    /// (<see cref="LogEntry.Create"/>), handed to the producer as it is (librdkafka copies it, and an
    /// entry is never changed); a line read from a file is a slice of the read buffer and is copied.
    /// </summary>
    private static byte[] WholeLine(LogEntry entry) =>
        System.Runtime.InteropServices.MemoryMarshal.TryGetArray(entry.Line, out var segment)
        && segment is { Array: { } array, Offset: 0 } && segment.Count == array.Length
            ? array
            : entry.Line.ToArray();

    /// <summary>
    /// The producer's settings: <c>Kafka:Producer</c> (TLS, SASL, tuning), then what the relay's
    /// delivery guarantee and its reading of the reports need, which <c>Kafka:Producer</c> cannot change.
    /// </summary>
    internal ProducerConfig ProducerSettings()
    {
        var config = new ProducerConfig(new Dictionary<string, string>(_kafka.Producer))
        {
            BootstrapServers = _kafka.BootstrapServers,
            ClientId = "govshare-node-" + _writer.Node,
            EnableIdempotence = true,
            Acks = Acks.All,
            MessageTimeoutMs = _kafka.MessageTimeoutMs,
            // A delivery report is read for its error only: without this, each report of
            // every record copied the record's line, key, headers and timestamp back into
            // new managed objects (per exchange, on the relay's side of each pull).
            DeliveryReportFields = "none",
        };

        // Unless Kafka:Producer sets it (or its alias): not a safety setting like the ones above.
        if (!_kafka.Producer.ContainsKey("linger.ms") && !_kafka.Producer.ContainsKey("queue.buffering.max.ms"))
        {
            config.LingerMs = LingerMs;
        }

        return config;
    }

    private IProducer<string?, byte[]> Producer()
    {
        lock (_producerLock)
        {
            if (_producer is not null && _producerFatal)
            {
                LogsDiagnostics.RelayProducerFatal(_logger, "fatal producer error");
                _producer.Dispose();
                _producer = null;
            }

            if (_producer is null)
            {
                _producerFatal = false;
                _producer = new ProducerBuilder<string?, byte[]>(ProducerSettings())
                    .SetKeySerializer(new KeyBytes())
                    .SetErrorHandler((_, error) =>
                    {
                        if (error.IsFatal)
                        {
                            _producerFatal = true;
                        }
                    })
                    .SetLogHandler((_, _) => { })
                    .Build();
            }

            return _producer;
        }
    }

    /// <summary>The topic the relay creates for a log when it is absent: retention at least the log retention (≥ 10 years).</summary>
    internal TopicSpecification TopicSpecification(string topic) => new()
    {
        Name = topic,
        NumPartitions = _kafka.TopicPartitions,
        ReplicationFactor = _kafka.TopicReplicationFactor,
        Configs = new Dictionary<string, string>
        {
            ["retention.ms"] = _logs.RetentionMilliseconds.ToString(CultureInfo.InvariantCulture),
            ["cleanup.policy"] = "delete",
        },
    };

    /// <summary>True once the topic exists or cannot be created by us (the broker's settings then apply); false to retry.</summary>
    private async Task<bool> EnsureTopicAsync(string topic)
    {
        var config = new AdminClientConfig(new Dictionary<string, string>(_kafka.Producer)) { BootstrapServers = _kafka.BootstrapServers };
        using var admin = new AdminClientBuilder(config).SetLogHandler((_, _) => { }).Build();
        try
        {
            // Metadata of all topics never auto-creates one with the broker's default retention.
            if (admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics.Any(t => t.Topic == topic && !t.Error.IsError))
            {
                return true;
            }

            if (!_kafka.CreateTopics)
            {
                // The Kafka team owns the topics: ship anyway and let the broker say if it is missing.
                LogsDiagnostics.RelayTopicNotCreated(_logger, topic, "Kafka:CreateTopics is false and the topic is not in the cluster's metadata");
                return true;
            }

            await admin.CreateTopicsAsync([TopicSpecification(topic)], new CreateTopicsOptions { RequestTimeout = TimeSpan.FromSeconds(10) }).ConfigureAwait(false);
            LogsDiagnostics.RelayTopicCreated(_logger, topic, _kafka.TopicPartitions, _logs.RetentionMilliseconds);
            return true;
        }
        catch (CreateTopicsException ex) when (ex.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
        {
            return true;
        }
        catch (CreateTopicsException ex)
        {
            // The broker answered and refused (policy, replication factor): retrying will not help.
            LogsDiagnostics.RelayTopicNotCreated(_logger, topic, ex.Results[0].Error.Reason);
            return true;
        }
        catch (KafkaException ex) when (ex.Error.Code is ErrorCode.Local_UnsupportedFeature or ErrorCode.UnsupportedVersion or ErrorCode.TopicAuthorizationFailed or ErrorCode.ClusterAuthorizationFailed)
        {
            LogsDiagnostics.RelayTopicNotCreated(_logger, topic, ex.Message);
            return true;
        }
        catch (KafkaException ex)
        {
            LogsDiagnostics.RelayTopicNotCreated(_logger, topic, ex.Message);
            return false;
        }
    }

    private string? ShippedHash(LogKind log)
    {
        lock (_shipped)
        {
            return _shippedHash[log];
        }
    }

    private string WatermarkPath(LogKind log) => Path.Combine(_writer.Store.FolderOf(log), LogStore.WatermarkFile);

    /// <summary>
    /// Write-then-rename, fsync'd: a crash leaves the old or the new watermark, never a torn one.
    /// The hash goes with the sequence so that start-up recovery can tell a record Kafka already
    /// holds from a rewritten one, and refuses to start rather than ship a second version of it.
    /// </summary>
    private void WriteWatermark(LogKind log, LogEntry entry) =>
        LogStore.ReplaceFile(WatermarkPath(log), Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{entry.Sequence} {entry.Hash}\n")));

    /// <summary>What Kafka confirmed, in memory: the next batch starts after it.</summary>
    private void SetShipped(LogKind log, LogEntry entry)
    {
        lock (_shipped)
        {
            _shipped[log] = entry.Sequence;
            _shippedHash[log] = entry.Hash;
        }
    }

    /// <summary>
    /// Ships everything durable — in a node, the closing checkpoints too: the host stops the server
    /// (drain) first and <see cref="LogCloser"/> just before this — for at most
    /// <see cref="KafkaOptions.StopFlushTimeout"/>, then stops and flushes the producer. What Kafka
    /// did not confirm by then stays in the outbox and is shipped after the next start.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        var started = TimeProvider.System.GetTimestamp();
        using (var bound = new CancellationTokenSource(_kafka.StopFlushTimeout))
        {
            while (!bound.IsCancellationRequested && ExecuteTask is { IsCompleted: false } && Enum.GetValues<LogKind>().Any(log => Shipped(log) < _writer.DurableSequence(log)))
            {
                try
                {
                    await Task.Delay(50, bound.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        foreach (var log in Enum.GetValues<LogKind>().Where(log => Shipped(log) < _writer.DurableSequence(log)))
        {
            LogsDiagnostics.RelayStopIncomplete(_logger, log, Shipped(log), _writer.DurableSequence(log), TimeProvider.System.GetElapsedTime(started).TotalSeconds);
        }

        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        lock (_producerLock)
        {
            _producer?.Flush(TimeSpan.FromSeconds(5));
            _producer?.Dispose();
            _producer = null;
        }
    }

    public override void Dispose()
    {
        lock (_producerLock)
        {
            _producer?.Dispose();
            _producer = null;
        }

        base.Dispose();
    }
}
