using System.ComponentModel.DataAnnotations;

namespace GovShare.Node.Kernel;

/// <summary>
/// The node's settings, bound from the <c>Node</c> section (appsettings.json or
/// environment variables such as <c>Node__DivisionCode</c>). Validated at start: a node
/// with a missing or unreadable setting does not start, and the message names the setting.
/// Relative paths are resolved against the current directory.
/// </summary>
public sealed class NodeOptions
{
    public const string Section = "Node";

    /// <summary>GB/T 2260 code of this node's jurisdiction, e.g. <c>530100</c>.</summary>
    [Required]
    public string DivisionCode { get; set; } = "";

    /// <summary>A display name, e.g. "Kunming".</summary>
    public string Name { get; set; } = "";

    /// <summary>Folder of the LiteDB file, dataset files and logs. One node process per folder.</summary>
    [Required]
    public string DataPath { get; set; } = "data";

    /// <summary>The department-facing HTTPS endpoint (mTLS). Port 0 picks a free port.</summary>
    [Required]
    public string ExchangeUrl { get; set; } = "https://127.0.0.1:8443";

    /// <summary>
    /// Liveness, readiness and operator API. <c>https://</c>: TLS with the node's certificate, and
    /// operators present their own certificates (<c>govshare:operator/&lt;division&gt;/&lt;id&gt;</c>), so every
    /// action names a person. <c>http://</c> (plain, keep it on loopback): only the bootstrap token
    /// from loopback, each use logged as bootstrap.
    /// </summary>
    [Required]
    public string ManagementUrl { get; set; } = "http://127.0.0.1:8444";

    /// <summary>
    /// Connections the exchange listener holds at once; further ones are closed as they arrive.
    /// Bounds what idle or half-open mTLS connections can take (the management listener is not
    /// counted, so probes and operators still get in).
    /// </summary>
    public int MaxConnections { get; set; } = 1000;

    /// <summary>How long an idle connection is kept open between requests (Kestrel's default is 130 s).</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Run a request on the thread that completed its socket read, and send its answer from the
    /// request's own thread, instead of handing both to the thread pool (Kestrel's
    /// <c>SocketTransportOptions.UnsafePreferInlineScheduling</c>, both listeners). Off by default: in
    /// quiet runs one-row pulls were answered 6-31 % faster with it (0.37-0.39 x raw Kestrel against
    /// 0.31), but large pulls this node answers fell from 0.88-0.91 to 0.74-0.76 x the raw file
    /// stream (target 0.8): each send then runs on the thread producing the answer instead of
    /// overlapping it. Forwards keep their overlap under it
    /// (Hierarchy/ForwardedResponseBody). benchmarks/results/profile-small-exchanges.txt, top. Never
    /// pair it with <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c>: request paths block their
    /// thread (fsyncs, state-store calls), which must not be the runtime's epoll thread.
    /// docs/ARCHITECTURE.md, "Transport scheduling".
    /// </summary>
    public bool InlineScheduling { get; set; }

    /// <summary>How long a client may take to complete the TLS handshake.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The slowest a request body may arrive, on average, after <see cref="MinRequestBodyGrace"/>;
    /// a slower or stalled upload is cut (408) and its push slot freed. 8 KiB/s is well under any
    /// government line a department pushes over, and far over a deliberate trickle.
    /// </summary>
    public int MinRequestBodyBytesPerSecond { get; set; } = 8 * 1024;

    /// <summary>How long a request body may start slowly before <see cref="MinRequestBodyBytesPerSecond"/> applies.</summary>
    public TimeSpan MinRequestBodyGrace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>PEM certificate of this node (<c>govshare:node/&lt;division&gt;</c>).</summary>
    [Required]
    public string Certificate { get; set; } = "";

    /// <summary>PEM private key of this node's certificate.</summary>
    [Required]
    public string Key { get; set; } = "";

    /// <summary>PEM bundle of the root CAs that client certificates must chain to. The system store is never used.</summary>
    [Required]
    public string TrustAnchors { get; set; } = "";

    /// <summary>Optional PEM bundle of intermediate (prefecture) CAs used to build client chains.</summary>
    public string? Intermediates { get; set; }

    /// <summary>
    /// Optional PEM bundle of the CAs that may issue node certificates; by default only the roots of
    /// <see cref="TrustAnchors"/>. Each must also be a trust anchor or an intermediate.
    /// </summary>
    public string? NodeIssuers { get; set; }

    /// <summary>Folder of CRLs (PEM or DER), one per CA; replaced files take effect without restart.</summary>
    [Required]
    public string CrlPath { get; set; } = "";

    /// <summary>How long after a CRL's nextUpdate it is still honoured; after that the node fails closed.</summary>
    public TimeSpan CrlGrace { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How far ahead the node warns (health detail, log, gauge) that its own certificate or a CA
    /// certificate expires.
    /// </summary>
    public TimeSpan ExpiryWarning { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// How far ahead the node warns that a CRL reaches its nextUpdate. CRLs are re-published every
    /// few days (the development PKI: 7), so this reach is short: a warning means a publication was missed.
    /// </summary>
    public TimeSpan CrlExpiryWarning { get; set; } = TimeSpan.FromDays(2);

    /// <summary>
    /// On SIGTERM or SIGINT, how long exchanges in progress may take to finish before their
    /// connections are cut. Keep the orchestrator's grace period (Helm: terminationGracePeriodSeconds)
    /// a good margin above it: closing checkpoints, the Kafka flush and the database close follow.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Below this many free bytes on the data folder's file system the node is not ready and
    /// refuses new pushes (507) up front, keeping the rest for the logs of pulls and queries.
    /// </summary>
    public long MinFreeBytes { get; set; } = 512L * 1024 * 1024;
}
