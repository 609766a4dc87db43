namespace GovShare.Node.Hierarchy;

/// <summary>How this node talks to linked nodes (section <c>Hierarchy</c>).</summary>
public sealed class HierarchyOptions
{
    public const string Section = "Hierarchy";

    /// <summary>How long to wait for a TCP and TLS connection to a linked node.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a forwarded exchange may stay silent (no bytes either way) before it is cut with a 504.</summary>
    public TimeSpan ActivityTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often each link is probed (an mTLS <c>GET /v1/identity</c> as this node).</summary>
    public TimeSpan HealthInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the subtree's sharing catalog is compared with what the parent last received, and published when it changed.</summary>
    public TimeSpan PublishInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest request body forwarded to another node (a push through the tree).</summary>
    public long MaxForwardedBodyBytes { get; set; } = 8L * 1024 * 1024 * 1024;
}
