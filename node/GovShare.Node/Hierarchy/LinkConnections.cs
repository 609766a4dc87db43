using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Identity;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Hierarchy;

/// <summary>
/// This node's connections to its linked nodes: one connection pool per link and pinned key, each
/// checking the peer's certificate against that link's division and key in its TLS handshake.
/// </summary>
/// <remarks>
/// Why per pin: a connection is judged once, in its handshake, and then kept alive for many
/// requests. A pool shared by all links cannot know which link a handshake is for
/// (<see cref="SocketsHttpHandler"/> hands its validation callback the <see cref="SslStream"/>, not
/// the request, so the pin was never checked at all before session 11), and a pool outliving a
/// pin keeps talking to the key the operator just replaced. So: the pin is read from the links at
/// each request (a request built from an older snapshot of the link still gets the current pin), a
/// pool is made for that pin, and when the pin changes or the link is removed
/// (<see cref="NodeLinkRegistry.Changed"/>) the old pool is closed: every connection made under the
/// old pin is cut at once, idle or not, so an exchange still streaming over it ends now (the operator
/// withdrew the trust it was sent under; its department sees a broken stream and a warning names the
/// cut). TLS
/// session resumption is off for node links: a resumed session shows the certificate of the
/// session's first handshake, not proof of the key the peer holds now. Every connection is
/// renewed after <see cref="ConnectionLifetime"/>, so a peer certificate revoked since its handshake
/// (the CRLs are re-read while the node runs) is judged again within that time.
/// </remarks>
internal sealed partial class LinkConnections : HttpMessageHandler
{
    /// <summary>How long a pooled connection to a linked node is reused before a new handshake judges the peer again.</summary>
    public static readonly TimeSpan ConnectionLifetime = TimeSpan.FromMinutes(5);

    private static readonly HttpRequestOptionsKey<string> ExpectedNode = new("govshare.expected-node");
    private readonly NodeLinkRegistry _links;
    private readonly TrustMaterial _trust;
    private readonly CrlStore _crls;
    private readonly HierarchyOptions _options;
    private readonly ILogger _logger;
    private readonly Dictionary<string, PinnedPool> _pools = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private bool _disposed;

    public LinkConnections(NodeLinkRegistry links, TrustMaterial trust, CrlStore crls, HierarchyOptions options, ILogger logger)
    {
        _links = links;
        _logger = logger;
        _trust = trust;
        _crls = crls;
        _options = options;
        links.Changed += DropStale;
    }

    /// <summary>Marks a request as going over the link to <paramref name="divisionCode"/>.</summary>
    public static void Expect(HttpRequestMessage request, string divisionCode) => request.Options.Set(ExpectedNode, divisionCode);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!request.Options.TryGetValue(ExpectedNode, out var division))
        {
            throw new InvalidOperationException("A request to another node names the link it goes over (NodeForwarder.ExpectNode).");
        }

        if (_links.Find(division) is not { } link)
        {
            throw new HttpRequestException(HttpRequestError.ConnectionError, $"Node {division} is not linked with this node; nothing was sent.");
        }

        var pool = PoolFor(link);
        try
        {
            return await pool.Invoker.SendAsync(request, cancellationToken);
        }
        catch (ObjectDisposedException ex) when (!_disposed)
        {
            // The pin changed between choosing the pool and sending on it: refused, never sent under the old pin.
            throw new HttpRequestException(HttpRequestError.ConnectionError, $"The link to node {division} was changed while this request was being sent; nothing was sent.", ex);
        }
        catch (HttpRequestException ex) when (ex.InnerException is AuthenticationException && pool.Refusal is { } reason)
        {
            // Say why the peer was refused (the key, the division), not only that the callback refused it.
            throw new HttpRequestException(HttpRequestError.SecureConnectionError, $"Node {division} at {link.Url} was refused: {reason}.", ex);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _links.Changed -= DropStale;
            List<PinnedPool> pools;
            lock (_lock)
            {
                _disposed = true;
                pools = [.. _pools.Values];
                _pools.Clear();
            }

            pools.ForEach(p => p.Close(null));
        }

        base.Dispose(disposing);
    }

    private PinnedPool PoolFor(NodeLink link)
    {
        PinnedPool? stale;
        PinnedPool made;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_pools.TryGetValue(link.DivisionCode, out stale) && stale.Pins(link))
            {
                return stale;
            }

            made = new PinnedPool(link.DivisionCode, link.KeySha256, this);
            _pools[link.DivisionCode] = made;
        }

        stale?.Close(link);
        return made;
    }

    /// <summary>Closes the pools of links removed or re-keyed: their connections are cut now, not after the idle timeout or the end of an exchange.</summary>
    private void DropStale()
    {
        List<(PinnedPool Pool, NodeLink? Now)> stale = [];
        lock (_lock)
        {
            foreach (var pool in _pools.Values)
            {
                var now = _links.Find(pool.Division);
                if (now is null || !pool.Pins(now))
                {
                    stale.Add((pool, now));
                }
            }

            stale.ForEach(p => _pools.Remove(p.Pool.Division));
        }

        stale.ForEach(p => p.Pool.Close(p.Now));
    }

    private SocketsHttpHandler CreateHandler(PinnedPool pool) => new()
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        ConnectTimeout = _options.ConnectTimeout,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        PooledConnectionLifetime = ConnectionLifetime,
        ActivityHeadersPropagator = null,
        ConnectCallback = pool.ConnectAsync,
        SslOptions = new SslClientAuthenticationOptions
        {
            ClientCertificates = [_trust.NodeCertificate],
            LocalCertificateSelectionCallback = (_, _, _, _, _) => _trust.NodeCertificate,
            AllowTlsResume = false,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => pool.Accepts(certificate, _trust, _crls),
        },
    };

    [LoggerMessage(EventId = 7020, EventName = "LinkConnectionsCut", Level = LogLevel.Warning, Message = "Cut {Connections} connection(s) to node {Division} made under its pinned key sha256:{Key}: {Reason}; exchanges still streaming on them end now, broken")]
    private static partial void LogCut(ILogger logger, int connections, string division, string key, string reason);

    /// <summary>The connections made under one pin: the peer must be node <see cref="Division"/> with key <see cref="KeySha256"/>.</summary>
    private sealed class PinnedPool
    {
        private readonly ConcurrentDictionary<Socket, byte> _sockets = new();
        private readonly LinkConnections _owner;
        private volatile bool _closed;

        public PinnedPool(string division, string? keySha256, LinkConnections owner)
        {
            Division = division;
            KeySha256 = keySha256;
            _owner = owner;
            Invoker = new HttpMessageInvoker(owner.CreateHandler(this), disposeHandler: true);
        }

        public string Division { get; }

        /// <summary>The pinned key; null on a link made before pinning, which matches no key.</summary>
        public string? KeySha256 { get; }

        public HttpMessageInvoker Invoker { get; }

        /// <summary>Why this pool's last handshake refused its peer (null after one that accepted).</summary>
        public string? Refusal { get; private set; }

        public bool Pins(NodeLink link) => string.Equals(link.KeySha256, KeySha256, StringComparison.Ordinal);

        /// <summary>
        /// Opens a connection of this pool (as <see cref="SocketsHttpHandler"/> does by default) and keeps its socket,
        /// so that <see cref="Close"/> can cut it even while a response is streaming on it: disposing the handler
        /// closes only idle connections.
        /// </summary>
        public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                _sockets[socket] = 0;
                if (_closed)
                {
                    throw new HttpRequestException(HttpRequestError.ConnectionError, $"The link to node {Division} was changed while connecting; nothing was sent.");
                }
            }
            catch
            {
                _sockets.TryRemove(socket, out _);
                socket.Dispose();
                throw;
            }

            return new PooledStream(socket, this);
        }

        /// <summary>
        /// Ends this pool: idle connections close, and connections in use are cut (an exchange streaming on one breaks
        /// off; a department must never take the part it got for the whole, and the trust it was sent under is gone).
        /// <paramref name="now"/> is the link as it stands (null: removed, or the node is stopping).
        /// </summary>
        public void Close(NodeLink? now)
        {
            _closed = true;
            var cut = 0;
            foreach (var socket in _sockets.Keys)
            {
                if (_sockets.TryRemove(socket, out _))
                {
                    cut++;
                    socket.Dispose(); // A read or write under way on it fails at once.
                }
            }

            Invoker.Dispose();
            if (cut > 0 && !_owner._disposed)
            {
                var reason = now is null
                    ? "the link was removed"
                    : $"the link was re-keyed to sha256:{now.KeySha256 ?? "(none)"}";
                LogCut(_owner._logger, cut, Division, KeySha256 ?? "(none)", reason);
            }
        }

        public bool Accepts(X509Certificate? certificate, TrustMaterial trust, CrlStore crls)
        {
            if (certificate is null)
            {
                Refusal = "it presented no certificate";
                return false;
            }

            using var peer = new X509Certificate2(certificate);
            Refusal = NodeForwarder.PeerProblem(peer, trust, crls, Division, KeySha256 ?? "");
            return Refusal is null;
        }

        /// <summary>A connection's stream: forgets its socket when the handler closes it.</summary>
        private sealed class PooledStream(Socket socket, PinnedPool pool) : NetworkStream(socket, ownsSocket: true)
        {
            protected override void Dispose(bool disposing)
            {
                pool._sockets.TryRemove(Socket, out _);
                base.Dispose(disposing);
            }
        }
    }
}
