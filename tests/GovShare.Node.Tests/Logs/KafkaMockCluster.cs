using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;

namespace GovShare.Node.Tests.Logs;

/// <summary>
/// librdkafka's in-process mock Kafka cluster, which speaks the real wire protocol on loopback.
/// It is started through the very librdkafka file Confluent.Kafka loaded (on Debian 12 that is
/// <c>centos8-librdkafka.so</c>, because the default build needs an absent libsasl2.so.3), found
/// in <c>/proc/self/maps</c>, so both share one copy of the library.
/// </summary>
public sealed unsafe class KafkaMockCluster : IDisposable
{
    private const int Producer = 0;
    private readonly nint _library;
    private readonly nint _client;
    private readonly nint _cluster;
    private readonly delegate* unmanaged<nint, int, int> _setDown;
    private readonly delegate* unmanaged<nint, int, int> _setUp;
    private readonly delegate* unmanaged<nint, void> _clusterDestroy;
    private readonly delegate* unmanaged<nint, void> _destroy;
    private readonly delegate* unmanaged<nint, byte*, int, int, int> _topicCreate;

    public KafkaMockCluster(int brokers = 3)
    {
        Brokers = brokers;
        LibraryPath = LoadedLibrRdKafka();
        _library = NativeLibrary.Load(LibraryPath);
        var confNew = (delegate* unmanaged<nint>)Export("rd_kafka_conf_new");
        var confSet = (delegate* unmanaged<nint, byte*, byte*, byte*, nuint, int>)Export("rd_kafka_conf_set");
        var kafkaNew = (delegate* unmanaged<int, nint, byte*, nuint, nint>)Export("rd_kafka_new");
        var clusterNew = (delegate* unmanaged<nint, int, nint>)Export("rd_kafka_mock_cluster_new");
        var bootstraps = (delegate* unmanaged<nint, byte*>)Export("rd_kafka_mock_cluster_bootstraps");
        _setDown = (delegate* unmanaged<nint, int, int>)Export("rd_kafka_mock_broker_set_down");
        _setUp = (delegate* unmanaged<nint, int, int>)Export("rd_kafka_mock_broker_set_up");
        _clusterDestroy = (delegate* unmanaged<nint, void>)Export("rd_kafka_mock_cluster_destroy");
        _destroy = (delegate* unmanaged<nint, void>)Export("rd_kafka_destroy");
        _topicCreate = (delegate* unmanaged<nint, byte*, int, int, int>)Export("rd_kafka_mock_topic_create");

        var errors = stackalloc byte[512];
        var conf = confNew();
        // The handle only hosts the cluster; keep its own logging quiet.
        fixed (byte* name = "log_level\0"u8, value = "0\0"u8)
        {
            _ = confSet(conf, name, value, errors, 512);
        }

        _client = kafkaNew(Producer, conf, errors, 512);
        if (_client == 0)
        {
            throw new InvalidOperationException("rd_kafka_new failed: " + Marshal.PtrToStringUTF8((nint)errors));
        }

        _cluster = clusterNew(_client, brokers);
        if (_cluster == 0)
        {
            _destroy(_client);
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed.");
        }

        BootstrapServers = Marshal.PtrToStringUTF8((nint)bootstraps(_cluster))!;

        // Without a controller in its metadata, admin requests (CreateTopics) wait for one forever.
        var setController = (delegate* unmanaged<nint, int, int>)Export("rd_kafka_mock_set_controller_id");
        _ = setController(_cluster, 1);
    }

    /// <summary>The librdkafka file the process loaded.</summary>
    public string LibraryPath { get; }

    public string BootstrapServers { get; }

    public int Brokers { get; }

    /// <summary>Creates a topic inside the mock (bypassing CreateTopics), e.g. with 8 partitions.</summary>
    public void CreateTopic(string topic, int partitions, int replicationFactor)
    {
        var bytes = Encoding.UTF8.GetBytes(topic + "\0");
        fixed (byte* name = bytes)
        {
            var err = _topicCreate(_cluster, name, partitions, replicationFactor);
            if (err != 0)
            {
                throw new InvalidOperationException($"rd_kafka_mock_topic_create failed with error {err}.");
            }
        }
    }

    /// <summary>Broker ids run from 1 to <see cref="Brokers"/>.</summary>
    public void SetAllDown()
    {
        for (var id = 1; id <= Brokers; id++)
        {
            _ = _setDown(_cluster, id);
        }
    }

    public void SetAllUp()
    {
        for (var id = 1; id <= Brokers; id++)
        {
            _ = _setUp(_cluster, id);
        }
    }

    public void Dispose()
    {
        _clusterDestroy(_cluster);
        _destroy(_client);
    }

    private nint Export(string name) => NativeLibrary.GetExport(_library, name);

    /// <summary>Makes Confluent.Kafka load librdkafka, then reads which file it mapped.</summary>
    private static string LoadedLibrRdKafka()
    {
        Library.Load();
        var path = File.ReadLines("/proc/self/maps")
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(parts => parts.Length >= 6 && parts[5].Contains("librdkafka", StringComparison.Ordinal))
            .Select(parts => string.Join(' ', parts[5..]))
            .FirstOrDefault();
        return path ?? throw new InvalidOperationException("Confluent.Kafka did not map a librdkafka file into this process.");
    }
}
