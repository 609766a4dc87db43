using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Hierarchy;

/// <summary>
/// The requests a linked node is making to this node right now, each with the key it was served under. When an
/// operator re-keys or removes that link (<see cref="NodeLinkRegistry.Changed"/>), the requests served under the
/// old pin are aborted: the pin is checked when a request arrives, and an exchange streaming for minutes must not
/// outlive the trust it was admitted under (the server-side twin of <see cref="LinkConnections"/> cutting its
/// own connections).
/// </summary>
public sealed partial class LinkedNodeRequests : IDisposable
{
    private readonly ConcurrentDictionary<HttpContext, (string Division, string? Key)> _requests = new();
    private readonly NodeLinkRegistry _links;
    private readonly ILogger<LinkedNodeRequests> _logger;

    public LinkedNodeRequests(NodeLinkRegistry links, ILogger<LinkedNodeRequests> logger)
    {
        _links = links;
        _logger = logger;
        links.Changed += AbortStale;
    }

    /// <summary>
    /// Keeps <paramref name="context"/>, served under <paramref name="link"/>'s pin, until the returned scope ends;
    /// null when the pin changed since <paramref name="link"/> was read (the request is then refused, not served).
    /// </summary>
    public Scope? Admit(HttpContext context, NodeLink link)
    {
        _requests[context] = (link.DivisionCode, link.KeySha256);
        // A change between the caller's check and the line above raised Changed before this request was kept.
        if (_links.Find(link.DivisionCode) is { } now && string.Equals(now.KeySha256, link.KeySha256, StringComparison.Ordinal))
        {
            return new Scope(this, context);
        }

        _requests.TryRemove(context, out _);
        return null;
    }

    public void Dispose() => _links.Changed -= AbortStale;

    private void AbortStale()
    {
        foreach (var (context, served) in _requests)
        {
            var now = _links.Find(served.Division);
            if (now is not null && string.Equals(now.KeySha256, served.Key, StringComparison.Ordinal))
            {
                continue;
            }

            // Only the request seen here: a context Kestrel reused for the connection's next request (admitted
            // under the new pin) since this loop read it is that request's, not this one's.
            if (_requests.TryRemove(new KeyValuePair<HttpContext, (string Division, string? Key)>(context, served)))
            {
                LogAborted(_logger, served.Division, served.Key ?? "(none)", context.Request.Path, now is null ? "the link was removed" : $"the link was re-keyed to sha256:{now.KeySha256 ?? "(none)"}");
                context.Abort();
            }
        }
    }

    [LoggerMessage(EventId = 7021, EventName = "LinkedNodeRequestAborted", Level = LogLevel.Warning, Message = "Aborted a request of node {Division} (key sha256:{Key}) to {Path} still under way: {Reason}")]
    private static partial void LogAborted(ILogger logger, string division, string key, PathString path, string reason);

    /// <summary>Forgets the request when it ends.</summary>
    public readonly struct Scope(LinkedNodeRequests owner, HttpContext context) : IDisposable
    {
        public void Dispose() => owner._requests.TryRemove(context, out _);
    }
}
