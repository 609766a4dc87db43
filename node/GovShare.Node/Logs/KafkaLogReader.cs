using Confluent.Kafka;

namespace GovShare.Node.Logs;

/// <summary>A message of a log topic that is not a log entry (damaged or foreign).</summary>
public sealed record UnreadableMessage(int Partition, long Offset);

/// <summary>What <see cref="KafkaLogReader.ReadTopic"/> found: entries in partition order, and what did not parse.</summary>
public sealed record KafkaLogCopy(IReadOnlyList<LogEntry> Entries, IReadOnlyList<UnreadableMessage> Unreadable);

/// <summary>
/// Reads a whole log topic with a plain consumer (every partition assigned from the start,
/// no consumer group), for verification of the Kafka copy.
/// </summary>
public static class KafkaLogReader
{
    public static KafkaLogCopy ReadTopic(string bootstrapServers, string topic, TimeSpan timeout, IReadOnlyDictionary<string, string>? settings = null)
    {
        var config = new ConsumerConfig(settings?.ToDictionary() ?? [])
        {
            BootstrapServers = bootstrapServers,
            GroupId = "govshare-log-verify",
            EnableAutoCommit = false,
            EnablePartitionEof = true,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        };
        using var consumer = new ConsumerBuilder<byte[]?, byte[]>(config).SetLogHandler((_, _) => { }).Build();
        // The same settings (security.protocol, ssl.*) for the metadata request: a secured cluster refuses a plain one.
        var metadata = new AdminClientBuilder(new AdminClientConfig(settings?.ToDictionary() ?? []) { BootstrapServers = bootstrapServers }).Build();
        List<TopicPartition> partitions;
        using (metadata)
        {
            var topicMetadata = metadata.GetMetadata(topic, timeout).Topics.Single();
            if (topicMetadata.Error.IsError)
            {
                throw new KafkaException(topicMetadata.Error);
            }

            partitions = [.. topicMetadata.Partitions.Select(p => new TopicPartition(topic, p.PartitionId))];
        }

        var ends = partitions.ToDictionary(p => p.Partition.Value, p => consumer.QueryWatermarkOffsets(p, timeout).High.Value);
        var pending = ends.Where(e => e.Value > 0).Select(e => e.Key).ToHashSet();
        consumer.Assign(partitions.Where(p => pending.Contains(p.Partition.Value)).Select(p => new TopicPartitionOffset(p, Offset.Beginning)));
        var entries = new List<LogEntry>();
        var unreadable = new List<UnreadableMessage>();
        var deadline = DateTime.UtcNow + timeout;
        while (pending.Count > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Reading {topic} did not reach the end of partitions {string.Join(",", pending)} within {timeout}.");
            }

            var result = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (result is null)
            {
                continue;
            }

            var partition = result.Partition.Value;
            if (!result.IsPartitionEOF)
            {
                if (LogEntry.TryParse(result.Message.Value) is { } entry)
                {
                    entries.Add(entry);
                }
                else
                {
                    unreadable.Add(new UnreadableMessage(partition, result.Offset.Value));
                }
            }

            if (result.IsPartitionEOF || result.Offset.Value + 1 >= ends[partition])
            {
                pending.Remove(partition);
            }
        }

        consumer.Close();
        return new KafkaLogCopy(entries, unreadable);
    }
}
