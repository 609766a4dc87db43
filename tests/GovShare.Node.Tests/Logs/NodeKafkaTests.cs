using System.Net;
using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Exchange;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Logs;

/// <summary>
/// A node configured with <c>Kafka:BootstrapServers</c> ships its logs to the topics over the
/// real Kafka wire protocol (librdkafka's mock cluster), through an outage of every broker.
/// </summary>
public sealed class NodeKafkaTests : IDisposable
{
    private readonly KafkaMockCluster _kafka = new();

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task Exchanges_ReachTheTopicThroughABrokerOutage_AndTheCopyVerifies()
    {
        foreach (var log in new[] { LogKind.Exchange, LogKind.Change, LogKind.Query })
        {
            _kafka.CreateTopic(KafkaOptions.Topic("530100", log), partitions: 8, replicationFactor: 3);
        }

        await using var f = await ExchangeFixture.StartAsync(s =>
        {
            s["Kafka:BootstrapServers"] = _kafka.BootstrapServers;
            s["Kafka:MessageTimeoutMs"] = "3000";
        });
        await f.PushAsync(Unconditional, 20);
        using var client = f.Node.Client(f.User.Certificate);
        var ids = new List<string>();
        async Task PullAsync(int count)
        {
            for (var i = 0; i < count; i++)
            {
                using var pull = await client.SendAsync(Pull(Unconditional, "stats"));
                Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
                ids.Add(pull.Headers.GetValues("GovShare-Exchange-Id").Single());
            }
        }

        await PullAsync(50);
        // Every broker down for longer than message.timeout.ms: the node keeps answering, the outbox holds the records.
        _kafka.SetAllDown();
        await PullAsync(50);
        await Task.Delay(TimeSpan.FromSeconds(4));
        _kafka.SetAllUp();
        await PullAsync(50);

        var topic = KafkaOptions.Topic("530100", LogKind.Exchange);
        KafkaLogCopy copy = null!;
        for (var attempt = 0; attempt < 60; attempt++)
        {
            copy = KafkaLogReader.ReadTopic(_kafka.BootstrapServers, topic, TimeSpan.FromSeconds(5));
            var shipped = copy.Entries.Select(e => e.Record?.ExchangeId).ToHashSet();
            if (ids.All(shipped.Contains))
            {
                break;
            }

            await Task.Delay(500);
        }

        var exchangeIds = copy.Entries.Select(e => e.Record?.ExchangeId).ToHashSet();
        Assert.DoesNotContain(ids, id => !exchangeIds.Contains(id));
        using var certificate = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(f.Pki.Folder.IssuedFolder, "node-530100.crt"));
        using var key = certificate.GetECDsaPublicKey();
        var verification = LogVerifier.VerifyCopy(copy.Entries, LogKind.Exchange, "530100", key);
        Assert.True(verification.Ok, verification.Message);
    }
}
