using System.Diagnostics.Metrics;

namespace GovShare.Node.Kernel;

/// <summary>
/// The node-wide instruments (exported at the management listener's <c>/metrics</c>): every
/// problem+json answer counted by its type, whichever feature refused; the data folder's free space.
/// </summary>
public static class NodeMetrics
{
    /// <summary>The meter's name, for the metrics endpoint to export.</summary>
    public const string MeterName = "GovShare.Node.Kernel";

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Refusals = Meter.CreateCounter<long>(
        "govshare.refusals", unit: "{refusal}", description: "problem+json answers, by problem type (a URI of docs/problems) and listener (exchange, management).");

    /// <summary>Counts one problem answer. The type is one of the node's constant URIs (a bounded set), never caller text.</summary>
    public static void Refused(string type, Listener listener) =>
        Refusals.Add(1, new KeyValuePair<string, object?>("govshare.problem.type", type), new KeyValuePair<string, object?>("govshare.listener", listener == Listener.Management ? "management" : "exchange"));
}

/// <summary>The node's gauges read at each scrape: the data folder's free space, the state snapshots' age. One per node, on its own meter instance.</summary>
public sealed class NodeGauges
{
    public NodeGauges(IMeterFactory meters, NodeDataFolder data)
    {
        ArgumentNullException.ThrowIfNull(meters);
        ArgumentNullException.ThrowIfNull(data);
        var meter = meters.Create(NodeMetrics.MeterName);
        meter.CreateObservableGauge(
            "govshare.disk.free",
            () => DiskSpace.FreeBytes(data.Path),
            unit: "By",
            description: "Free bytes on the file system of the data folder (logs, state, datasets); the logs refuse appends when it is full.");
        // LiteDB: one process replaces its snapshots in each commit, so they are never behind (0).
        // PostgreSQL: the time since this replica last confirmed them current; it grows while following the others fails.
        meter.CreateObservableGauge(
            "govshare.state.snapshot.age",
            () => data.State is PostgresStateStore shared ? shared.SnapshotAge.TotalSeconds : 0,
            unit: "s",
            description: "Seconds since this replica last confirmed its in-memory state snapshots (registry, links, catalog, grants) match the committed state; always 0 with LiteDB (Kernel/README.md).");
    }
}
