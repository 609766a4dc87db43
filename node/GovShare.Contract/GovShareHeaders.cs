namespace GovShare.Contract;

/// <summary>The HTTP header names of the GovShare protocol, shared by the node and every client.</summary>
public static class GovShareHeaders
{
    /// <summary>The purpose of use a pull is made for (Art. 33); it must match the grant's purpose.</summary>
    public const string Purpose = "GovShare-Purpose";

    /// <summary>
    /// The department a pull's data will be provided on to (onward sharing, Art. 33): its identity
    /// URI (govshare:dept/…). Absent: the data is for the caller's own use. Present: the pull is
    /// refused unless the provider consented for this purpose and this recipient.
    /// </summary>
    public const string OnwardRecipient = "GovShare-Onward-Recipient";

    /// <summary>On a pull's answer: the number of the data version delivered (what a dispute names, Art. 27).</summary>
    public const string DataVersion = "GovShare-Data-Version";

    /// <summary>
    /// On a pull's answer: how many rows the answer will carry, announced before the first one, so
    /// a client can show a total, a percentage and the time left. Sent only when the node knows the
    /// number exactly (every row of the version goes out: a pull has no row filter); a client must
    /// treat a missing header as "total unknown", never as zero.
    /// </summary>
    public const string DataRows = "GovShare-Data-Rows";

    /// <summary>
    /// On a push: when the data changed at its source (RFC 3339, e.g. <c>2026-05-06T09:00:00+08:00</c>).
    /// Art. 16's 10 working days to update the shared data run from it; without it, from the push.
    /// </summary>
    public const string SourceChangedAt = "GovShare-Source-Changed-At";

    /// <summary>
    /// The exchange id: a response header on every push and pull (refusals too), and between
    /// nodes one id across every hop, so each node's log names the same exchange.
    /// </summary>
    public const string ExchangeId = "GovShare-Exchange-Id";

    /// <summary>The department a node is forwarding for: its identity URI (govshare:dept/…).</summary>
    public const string OnBehalfOf = "GovShare-On-Behalf-Of";

    /// <summary>How many nodes the request has passed (0 at the department's own node).</summary>
    public const string Hop = "GovShare-Hop";

    /// <summary>
    /// Headers that only nodes may send to each other. From a department connection they are
    /// refused: a department cannot claim to act for another or forge a hop.
    /// </summary>
    public static readonly IReadOnlyList<string> NodeOnly = [OnBehalfOf, ExchangeId, Hop];
}
