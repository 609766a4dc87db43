namespace GovShare.Node.Exchange;

/// <summary>Names on the wire of push and pull, shared by the endpoints and their clients.</summary>
public static class ExchangeProtocol
{
    /// <summary>The media type of an Arrow IPC stream, the body of every push and pull.</summary>
    public const string ArrowStreamMediaType = "application/vnd.apache.arrow.stream";

    /// <summary>Response header carrying the <see cref="ExchangeId"/> of a push or pull (also on its refusals).</summary>
    public const string ExchangeIdHeader = "GovShare-Exchange-Id";
}
