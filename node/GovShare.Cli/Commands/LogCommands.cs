using System.CommandLine;
using GovShare.Node.Logs;

namespace GovShare.Cli.Commands;

/// <summary><c>govshare log verify</c>: checks a log's hash chain and checkpoints, from the data folder or from Kafka.</summary>
internal static class LogCommands
{
    public static Command Create()
    {
        var log = new Option<LogKind>("--log") { Description = "Which log: Exchange, Change or Query.", DefaultValueFactory = _ => LogKind.Exchange };
        var data = new Option<string?>("--data") { Description = "The node's data folder (read only; the node may be running), or the folder a node's replicas share: then every replicas/<replica>/ chain is verified." };
        var kafka = new Option<string?>("--kafka") { Description = "Kafka bootstrap servers, to verify the copy in Kafka instead (every replica's chain in the topic, each reported on its own); with --data, compares each local chain with its copy and names the lowest diverging sequence." };
        var topic = new Option<string?>("--topic") { Description = "The topic; default govshare.<node>.<log>." };
        var node = new Option<string?>("--node") { Description = "The node's division code (needed for Kafka unless --topic names it)." };
        var certificate = new Option<string?>("--certificate") { Description = "The node's PEM certificate, to check checkpoint signatures." };
        var from = new Option<long>("--from") { Description = "First sequence number.", DefaultValueFactory = _ => 1 };
        var to = new Option<long>("--to") { Description = "Last sequence number.", DefaultValueFactory = _ => long.MaxValue };
        var verify = new Command("verify", "Verify a range of a log; names the first bad record (edited, missing, reordered). Exit 0 verified, 5 a bad record (damaged or tampered), 2 usage, 3 unreadable.")
        {
            log, data, kafka, topic, node, certificate, from, to,
        };
        verify.SetAction(parse =>
        {
            var outcome = LogVerifyCommand.Run(new LogVerifyRequest
            {
                Log = parse.GetValue(log),
                DataPath = parse.GetValue(data),
                KafkaBootstrapServers = parse.GetValue(kafka),
                Topic = parse.GetValue(topic),
                Node = parse.GetValue(node),
                CertificatePath = parse.GetValue(certificate),
                From = parse.GetValue(from),
                To = parse.GetValue(to),
            });
            (outcome.ExitCode == LogVerifyCommand.Verified ? Console.Out : Console.Error).WriteLine(outcome.Message);
            return outcome.ExitCode;
        });
        return new Command("log", "The node's tamper-evident change, exchange and query logs.") { verify };
    }
}
