using System.Net;
using System.Security.Cryptography.X509Certificates;
using GovShare.Contract;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace GovShare.Node.Hierarchy;

/// <summary>
/// Forwards a department's exchange to a linked node with YARP, over mTLS with this node's own
/// certificate, streaming both ways (the answer through a bounded pipe, <see cref="ForwardedResponseBody"/>, so a
/// large pull passes in bounded memory). The original department travels in <see cref="GovShareHeaders.OnBehalfOf"/> with one
/// exchange id and the hop count. A failure becomes a 502, 503 or 504 problem naming the hop;
/// nothing is retried, so a push is never sent twice.
/// </summary>
public sealed partial class NodeForwarder : IDisposable
{
    /// <summary>Nginx's "client closed request", as Exchange logs a pull the department left.</summary>
    private const int ClientClosedRequest = 499;

    private readonly IHttpForwarder _forwarder;
    private readonly LinkHealth _health;
    private readonly HierarchyOptions _options;
    private readonly ILogger<NodeForwarder> _logger;
    private readonly HttpMessageInvoker _invoker;

    public NodeForwarder(IHttpForwarder forwarder, LinkHealth health, TrustMaterial trust, CrlStore crls, NodeLinkRegistry links, IOptions<HierarchyOptions> options, ILogger<NodeForwarder> logger)
    {
        _forwarder = forwarder;
        _health = health;
        _options = options.Value;
        _logger = logger;
        _invoker = new HttpMessageInvoker(new LinkConnections(links, trust, crls, _options, logger), disposeHandler: true);
    }

    /// <summary>
    /// The client for node-to-node calls (forwarding, health, publication, filings, escalations, reports): this
    /// node's certificate; each request goes over one link (<see cref="ExpectNode"/>), on connections whose peer
    /// proved, in a handshake made under the link's current pin, to be that node with that key (<see cref="LinkConnections"/>).
    /// </summary>
    public HttpMessageInvoker Invoker => _invoker;

    /// <summary>Marks a request as going to the node of <paramref name="link"/>: the peer must be that node with the key its link pins when the request is sent.</summary>
    public static void ExpectNode(HttpRequestMessage request, NodeLink link)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(link);
        LinkConnections.Expect(request, link.DivisionCode);
    }

    /// <summary>Forwards the current request to <paramref name="link"/> for <paramref name="department"/>.</summary>
    public async Task ForwardAsync(HttpContext context, NodeLink link, CallerIdentity department, string exchangeId, int hop)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        // The request's body YARP relays, counted on its way through for govshare.exchange.bytes (kind forward); the
        // answer's bytes are counted by its ForwardedResponseBody.
        var requestBody = new CountingStream(context.Request.Body);
        context.Request.Body = requestBody;
        (Cut? Cut, long Bytes) outcome = (null, 0);
        try
        {
            outcome = await ForwardCoreAsync(context, link, department, exchangeId, hop);
        }
        finally
        {
            context.Request.Body = requestBody.Inner;
            var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            // A forward cut after the answer began keeps the 200 its headers carried; the metrics and the record say
            // how it ended (and the record how many bytes the department got), so it is never counted as delivered.
            var (cut, responseBytes) = outcome;
            var status = cut?.Status ?? context.Response.StatusCode;
            Logs.ExchangeMetrics.Record(Logs.ExchangeKind.Forward, status, 0, requestBody.Count + responseBytes, elapsed);
            // Every hop logs the exchange under the one exchange id, with its hop (Art. 29: traceable).
            var parties = Logs.LogParties.Of(context);
            await context.RequestServices.GetRequiredService<Logs.LogWriter>().AppendAsync(Logs.LogKind.Exchange, new Logs.LogRecord
            {
                ExchangeId = exchangeId,
                Caller = parties.Caller,
                OnBehalfOf = department.Uri,
                Hop = hop + 1,
                Kind = Logs.ExchangeKind.Forward,
                ResourceCode = context.Request.RouteValues.TryGetValue("code", out var code) && Catalog.ResourceCode.TryFromUrl(code?.ToString(), out var resource) ? resource : null,
                Purpose = context.Request.Headers[GovShareHeaders.Purpose].ToString() is { Length: > 0 and <= 64 } purpose ? purpose : null,
                Status = status,
                ProblemType = cut?.ProblemType,
                Bytes = cut is null ? 0 : responseBytes,
                Entity = $"node/{link.DivisionCode}",
                DurationMs = (long)elapsed.TotalMilliseconds,
            }, CancellationToken.None);
        }
    }

    /// <summary>Forwards; the cut is null unless the answer was cut after it began, then how it ended; the bytes are the answer's handed to the department.</summary>
    private async Task<(Cut? Cut, long Bytes)> ForwardCoreAsync(HttpContext context, NodeLink link, CallerIdentity department, string exchangeId, int hop)
    {
        if (_health.IsDown(link.DivisionCode, out var since, out var reason))
        {
            LogForwardRefused(_logger, exchangeId, link.DivisionCode, reason ?? "down");
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(_options.HealthInterval.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            await Problem.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, ProblemTypes.UpstreamUnavailable, $"Node {link.DivisionCode} is unavailable", $"The link to node {link.DivisionCode} has been down since {since:u} ({reason}); try again later.");
            return (null, 0);
        }

        // The node's own cap, not Kestrel's: past Kestrel's limit the body is left in error and the
        // connection closed unread, so the department saw a broken pipe instead of this node's 413.
        context.Request.Body = UploadCap.Take(context, _options.MaxForwardedBodyBytes,
            $"The body is larger than {_options.MaxForwardedBodyBytes} bytes, the most this node forwards to another node (Hierarchy:MaxForwardedBodyBytes).");

        // YARP's copy of the answer writes into a bounded pipe that its own task sends on (ForwardedResponseBody: why).
        var responseBody = ForwardedResponseBody.Install(context);
        ForwarderError error;
        var whole = false;
        try
        {
            error = await _forwarder.SendAsync(
                context,
                link.Url,
                _invoker,
                new ForwarderRequestConfig
                {
                    ActivityTimeout = _options.ActivityTimeout,
                    // HTTP/1.1 between nodes: one stream per connection moves bulk data faster than HTTP/2's flow control.
                    Version = HttpVersion.Version11,
                    VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                },
                new HopTransformer(department, exchangeId, hop + 1, link));
        }
        finally
        {
            // Before anything below answers on the response: every byte YARP wrote is sent (or the send has failed).
            whole = await responseBody.EndAsync();
        }

        if (error == ForwarderError.None && !whole)
        {
            // YARP's copy ended, but the department's connection failed while its last bytes were sent.
            error = ForwarderError.ResponseBodyClient;
        }

        if (error == ForwarderError.None)
        {
            LogForwarded(_logger, exchangeId, link.DivisionCode, hop + 1, context.Response.StatusCode);
            return (null, responseBody.Count);
        }

        var exception = context.GetForwarderErrorFeature()?.Exception;
        LogForwardFailed(_logger, exchangeId, link.DivisionCode, error.ToString(), exception?.Message ?? "");
        if (error is ForwarderError.Request or ForwarderError.RequestCreation or ForwarderError.NoAvailableDestinations)
        {
            _health.MarkDown(link.DivisionCode, exception?.Message ?? error.ToString());
        }

        if (context.Response.HasStarted)
        {
            context.Abort(); // Mid-stream: the client must see a broken stream, never a short one taken for whole.
            // YARP's names: "Client" is the department, "Destination" the linked node. The department going away
            // is its own doing (499, as a pull it leaves; YARP reports it as a failed write or as cancelled, and
            // also reports cancelled when the linked node sent nothing for Hierarchy:ActivityTimeout). Anything
            // else broke the answer on the linked node's side: it died, or a re-key or unlink cut the link.
            return (error is ForwarderError.ResponseBodyClient or ForwarderError.ResponseBodyCanceled
                ? new Cut(ClientClosedRequest, null)
                : new Cut(StatusCodes.Status502BadGateway, ProblemTypes.UpstreamUnavailable), responseBody.Count);
        }

        if (OverCap(exception) is { } body)
        {
            // The rest of the upload is not wanted: Kestrel drains it briefly so this answer is read, then closes.
            context.Response.Clear();
            context.Response.Headers.Connection = "close";
            await Problem.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, ProblemTypes.PayloadTooLarge, "The body is too large to forward", body.Message);
            return (null, 0);
        }

        var (status, type, title) = error switch
        {
            ForwarderError.RequestTimedOut => (StatusCodes.Status504GatewayTimeout, ProblemTypes.UpstreamTimeout, $"Node {link.DivisionCode} did not answer in time"),
            ForwarderError.RequestCanceled or ForwarderError.RequestBodyClient or ForwarderError.RequestBodyCanceled => (StatusCodes.Status400BadRequest, ProblemTypes.MalformedRequest, "The request was cancelled or its body broke off"),
            _ => (StatusCodes.Status502BadGateway, ProblemTypes.UpstreamUnavailable, $"Node {link.DivisionCode} cannot be reached"),
        };
        context.Response.Clear();
        await Problem.WriteAsync(context, status, type, title, $"Forwarding exchange {exchangeId} to node {link.DivisionCode} ({link.Url}) failed: {error}.");
        return (null, 0);
    }

    public void Dispose() => _invoker.Dispose();

    /// <summary>How a forward whose answer had begun ended early: the status and problem type its record carries instead of the 200 sent.</summary>
    private sealed record Cut(int Status, string? ProblemType);

    /// <summary>The cap's refusal, if that is what broke the body's copy (YARP may hand it on wrapped).</summary>
    private static BadHttpRequestException? OverCap(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is BadHttpRequestException body && UploadCap.IsOverCap(body))
            {
                return body;
            }
        }

        return null;
    }

    /// <summary>
    /// Why <paramref name="peer"/> is not the node we mean to reach, or null when it is: chained to
    /// our anchors, unrevoked, a node certificate from a CA that may issue node certificates, naming
    /// <paramref name="expectedDivision"/> and, when given, carrying the pinned <paramref name="expectedKey"/>.
    /// </summary>
    internal static string? PeerProblem(X509Certificate2 peer, TrustMaterial trust, CrlStore crls, string? expectedDivision, string? expectedKey)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trust.Roots);
        chain.ChainPolicy.ExtraStore.AddRange(trust.Intermediates);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.1"));
        if (!chain.Build(peer))
        {
            return "its certificate does not chain to this node's trust anchors for serverAuth";
        }

        for (var i = 0; i < chain.ChainElements.Count - 1; i++)
        {
            if (crls.Check(chain.ChainElements[i].Certificate, chain.ChainElements[i + 1].Certificate) is { Status: not RevocationStatus.Good } verdict)
            {
                return $"its certificate chain is not known to be unrevoked ({verdict.Reason})";
            }
        }

        if (CallerIdentity.TryParse(TrustMaterial.UriOf(peer)) is not { Kind: CallerKind.Node } identity)
        {
            return "its certificate is not a node certificate";
        }

        var issuer = crls.IssuerOf(peer);
        if (trust.Scope.Refusal(identity, issuer, issuer is null ? null : crls.IssuerOf(issuer)) is { } outOfScope)
        {
            return outOfScope.Message;
        }

        if (expectedDivision is not null && expectedDivision != identity.DivisionCode)
        {
            return $"it is node {identity.DivisionCode}, not {expectedDivision}";
        }

        if (expectedKey is not null && !string.Equals(expectedKey, TrustMaterial.SpkiSha256(peer), StringComparison.OrdinalIgnoreCase))
        {
            return $"its key sha256:{TrustMaterial.SpkiSha256(peer)} is not the one the link pins (sha256:{expectedKey})";
        }

        return null;
    }

    [LoggerMessage(EventId = 7100, EventName = "Forwarded", Level = LogLevel.Debug, Message = "Forwarded exchange {ExchangeId} to node {Division} as hop {Hop}: {Status}")]
    private static partial void LogForwarded(ILogger logger, string exchangeId, string division, int hop, int status);

    [LoggerMessage(EventId = 7101, EventName = "ForwardFailed", Level = LogLevel.Warning, Message = "Forwarding exchange {ExchangeId} to node {Division} failed: {Error} {Reason}")]
    private static partial void LogForwardFailed(ILogger logger, string exchangeId, string division, string error, string reason);

    [LoggerMessage(EventId = 7102, EventName = "ForwardRefusedLinkDown", Level = LogLevel.Warning, Message = "Not forwarding exchange {ExchangeId} to node {Division}: link down ({Reason})")]
    private static partial void LogForwardRefused(ILogger logger, string exchangeId, string division, string reason);

    /// <summary>Passes the request's body through and counts its bytes (YARP reads the request's own stream).</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public Stream Inner => inner;

        public long Count { get; private set; }

        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Counted(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => Counted(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        private int Counted(int read)
        {
            Count += read;
            return read;
        }
    }

    private sealed class HopTransformer(CallerIdentity department, string exchangeId, int hop, NodeLink expectedNode) : HttpTransformer
    {
        public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
        {
            await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
            foreach (var header in GovShareHeaders.NodeOnly)
            {
                proxyRequest.Headers.Remove(header);
            }

            proxyRequest.Headers.TryAddWithoutValidation(GovShareHeaders.OnBehalfOf, department.Uri);
            proxyRequest.Headers.TryAddWithoutValidation(GovShareHeaders.ExchangeId, exchangeId);
            proxyRequest.Headers.TryAddWithoutValidation(GovShareHeaders.Hop, hop.ToString(System.Globalization.CultureInfo.InvariantCulture));
            ExpectNode(proxyRequest, expectedNode);
        }
    }
}
