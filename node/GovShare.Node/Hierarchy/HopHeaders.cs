namespace GovShare.Node.Hierarchy;

/// <summary>
/// Headers that only nodes may send to each other. From a department connection they are
/// refused: a department cannot claim to act for another or forge a hop.
/// </summary>
public static class HopHeaders
{
    /// <summary>The department a node is forwarding for: its identity URI (govshare:dept/…).</summary>
    public const string OnBehalfOf = "GovShare-On-Behalf-Of";

    /// <summary>One exchange id across every hop, so each node's log names the same exchange.</summary>
    public const string ExchangeId = "GovShare-Exchange-Id";

    /// <summary>How many nodes the request has passed (0 at the department's own node).</summary>
    public const string Hop = "GovShare-Hop";

    public static readonly string[] All = [OnBehalfOf, ExchangeId, Hop];
}
