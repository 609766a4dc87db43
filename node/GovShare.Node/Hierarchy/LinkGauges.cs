using System.Diagnostics.Metrics;

namespace GovShare.Node.Hierarchy;

/// <summary>
/// <c>govshare.link.up</c>, read at each scrape: 1 for each link whose last probe or forward found
/// the other node answering as itself, 0 for each found down (meter <c>GovShare.Node.Hierarchy</c>).
/// A link not yet probed since the start has no series until its first probe ends, so an alert on
/// <c>== 0</c> never fires on a guess. One per node, on its own meter instance.
/// </summary>
public sealed class LinkGauges
{
    /// <summary>The meter's name, for the metrics endpoint to export.</summary>
    public const string MeterName = "GovShare.Node.Hierarchy";

    public LinkGauges(IMeterFactory meters, NodeLinkRegistry links, LinkHealth health)
    {
        ArgumentNullException.ThrowIfNull(meters);
        ArgumentNullException.ThrowIfNull(links);
        ArgumentNullException.ThrowIfNull(health);
        meters.Create(MeterName).CreateObservableGauge(
            "govshare.link.up",
            () => links.All()
                .Select(link => (link, state: health.Of(link.DivisionCode)))
                .Where(l => l.state is not null)
                .Select(l => new Measurement<int>(
                    l.state!.Up ? 1 : 0,
                    new KeyValuePair<string, object?>("govshare.link.division", l.link.DivisionCode),
                    new KeyValuePair<string, object?>("govshare.link.direction", l.link.Role == LinkRole.Parent ? "parent" : "child"))),
            unit: "{link}",
            description: "1 while the link to the other node is up (it answers its mTLS probe as the node linked), 0 while down; by division and direction (parent, child).");
    }
}
