using GovShare.Contract;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Hierarchy;

/// <summary>
/// Turns a linked node's forwarded request into the original department's request. The
/// department's identity travels in <see cref="GovShareHeaders.OnBehalfOf"/>; it is honoured only
/// on an authenticated node connection, from a linked node that may vouch for it: a child for
/// departments of its own subtree, the parent for departments outside ours (it brings the rest of the tree). The owning
/// node then enforces grants for the department itself. A department connection sending any
/// hop header is refused. A node is served only if linked here, and only with the key its link
/// pins. Runs after <see cref="CallerGate"/>, which has admitted the certificate itself.
/// </summary>
public sealed partial class OnBehalfOfMiddleware(RequestDelegate next, NodeLinkRegistry links, LinkedNodeRequests linkedRequests, Microsoft.Extensions.Options.IOptions<NodeOptions> options, ILogger<OnBehalfOfMiddleware> logger)
{
    private readonly string _self = options.Value.DivisionCode;

    public Task InvokeAsync(HttpContext context)
    {
        // A department's request (nearly every one) goes straight to the hop-header check; only a
        // linked node's has its key compared with the pin, which needs its certificate.
        var caller = CallerIdentity.FromPrincipal(context.User);
        return caller is { Kind: CallerKind.Node } && links.Find(caller.DivisionCode) is { } link
            ? CheckPinAsync(context, caller, link)
            : Vouch(context, caller);
    }

    private async Task CheckPinAsync(HttpContext context, CallerIdentity caller, NodeLink link)
    {
        if (await context.Connection.GetClientCertificateAsync() is { } certificate)
        {
            // A link pins the peer's key: another valid certificate naming the same node (a
            // re-issued one, or one from a compromised issuer) is not the node this operator linked.
            var presented = TrustMaterial.SpkiSha256(certificate);
            if (!string.Equals(presented, link.KeySha256, StringComparison.Ordinal))
            {
                LogRefused(logger, caller.Uri, $"key sha256:{presented} is not the pinned sha256:{link.KeySha256 ?? "(none)"}");
                await Problem.WriteAsync(context, StatusCodes.Status403Forbidden, ProblemTypes.NodeKeyNotPinned, "The node's key is not the one its link pins", $"Node {caller.DivisionCode} presented key sha256:{presented}, but the link pins sha256:{link.KeySha256 ?? "(none)"}. If that node was re-keyed, this node's operator confirms the new key with 'govshare node rekey'.");
                return;
            }
        }

        // Served under this pin for as long as it holds: a re-key or unlink while the request runs aborts it.
        if (linkedRequests.Admit(context, link) is not { } admitted)
        {
            LogRefused(logger, caller.Uri, "its link changed as the request arrived");
            await Problem.WriteAsync(context, StatusCodes.Status403Forbidden, ProblemTypes.NodeKeyNotPinned, "The node's link changed", $"The link to node {caller.DivisionCode} was re-keyed or removed as this request arrived; it was not served.");
            return;
        }

        using (admitted)
        {
            await Vouch(context, caller);
        }
    }

    private Task Vouch(HttpContext context, CallerIdentity? caller)
    {
        if (caller is null or { Kind: CallerKind.Operator })
        {
            // Anonymous or an operator: the management listener's (CallerGate admits neither on the exchange listener).
            return next(context);
        }

        var hopHeader = HopHeaderOf(context.Request.Headers);
        if (caller.Kind == CallerKind.Department)
        {
            if (hopHeader is null)
            {
                return next(context);
            }

            LogRefused(logger, caller.Uri, $"a department sent {hopHeader}");
            return Problem.WriteAsync(context, StatusCodes.Status403Forbidden, ProblemTypes.HopHeaderRefused, "Only a linked node may send GovShare hop headers", $"The header {hopHeader} may not be sent by a department.");
        }

        var link = links.Find(caller.DivisionCode);
        if (link is null)
        {
            // A valid node certificate is not enough: the node is served only once both operators linked it.
            LogNotLinked(logger, caller.Uri);
            return Problem.WriteAsync(context, StatusCodes.Status403Forbidden, ProblemTypes.NodeNotLinked, "The node is not linked with this node", $"Node {caller.DivisionCode} is not linked with this node; its operator and this node's must both run 'govshare node link'.");
        }

        var onBehalfOf = context.Request.Headers[GovShareHeaders.OnBehalfOf].ToString();
        if (onBehalfOf.Length == 0)
        {
            return next(context); // The node acting as itself (catalog publication, health).
        }

        if (CallerIdentity.TryParse(onBehalfOf) is not { Kind: CallerKind.Department } department)
        {
            LogRefused(logger, caller.Uri, "malformed on-behalf-of");
            return Problem.WriteAsync(context, StatusCodes.Status400BadRequest, ProblemTypes.MalformedRequest, "Malformed on-behalf-of identity", $"{GovShareHeaders.OnBehalfOf} must be a department identity URI.");
        }

        // A child vouches only for its own subtree. The parent is where everything outside this
        // node's jurisdiction comes from (a department of another prefecture, or a national one
        // through the province), so it vouches for any department outside ours — and never for one
        // of ours: our departments reach us from below, so a parent naming one (the national node
        // asserting a provincial department) is an impersonation. What an outside department may
        // then use is the owning node's decision (grants; beyond the province, the catalog scope).
        var mayVouch = link.Role == LinkRole.Parent
            ? !DivisionCode.IsWithin(department.DivisionCode, _self)
            : DivisionCode.IsWithin(department.DivisionCode, link.DivisionCode);
        if (!mayVouch)
        {
            LogRefused(logger, caller.Uri, $"vouched for {department.Uri} outside what it may speak for");
            var detail = link.Role == LinkRole.Parent
                ? $"Node {link.DivisionCode} is this node's parent: it may vouch only for departments outside this node's jurisdiction {_self}, and {department.Uri} is inside it."
                : $"Node {link.DivisionCode} may vouch only for departments of its own jurisdiction; {department.Uri} is outside it.";
            return Problem.WriteAsync(context, StatusCodes.Status403Forbidden, ProblemTypes.VouchRefused, "The node may not act for this department", detail);
        }

        context.User = Vouching.Vouched(department, context.User.Identity!.AuthenticationType!, caller.Uri);
        return next(context);
    }

    /// <summary>The first node-only header the request carries, or null (every request asks: a loop, no closure).</summary>
    private static string? HopHeaderOf(IHeaderDictionary headers)
    {
        for (var i = 0; i < GovShareHeaders.NodeOnly.Count; i++)
        {
            if (headers.ContainsKey(GovShareHeaders.NodeOnly[i]))
            {
                return GovShareHeaders.NodeOnly[i];
            }
        }

        return null;
    }

    [LoggerMessage(EventId = 7002, EventName = "NodeNotLinked", Level = LogLevel.Warning, Message = "Refused {Caller}: valid node certificate, but not linked with this node")]
    private static partial void LogNotLinked(ILogger logger, string caller);

    [LoggerMessage(EventId = 7001, EventName = "HopRefused", Level = LogLevel.Warning, Message = "Refused a request from {Caller}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string caller, string reason);
}
