namespace GovShare.Contract;

/// <summary>The media types the node reads and writes.</summary>
public static class MediaTypes
{
    /// <summary>An Arrow IPC stream: the body of every push and of a pull by default.</summary>
    public const string ArrowStream = "application/vnd.apache.arrow.stream";

    /// <summary>JSON: request bodies, and a pull's rows as one array of objects.</summary>
    public const string Json = "application/json";

    /// <summary>CSV: a pull's rows, and item lists for spreadsheets.</summary>
    public const string Csv = "text/csv";

    /// <summary>Every refusal (RFC 9457).</summary>
    public const string Problem = "application/problem+json";
}
