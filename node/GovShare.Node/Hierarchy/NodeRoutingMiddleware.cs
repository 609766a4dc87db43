using System.Text.Json;
using GovShare.Node.Catalog;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using Microsoft.AspNetCore.Http;

namespace GovShare.Node.Hierarchy;

/// <summary>
/// Lets a department reach any node of the tree through its own (Art. 21): the one place where
/// a request is routed to another node. It reads the endpoint's <see cref="NodeRouting"/> mark:
/// an exchange whose resource this node does not hold goes to the node that does (down to the
/// child whose subtree owns it, else up); a share application or dispute likewise, by its body's
/// resource; any other request only when it names a node (<c>?node=&lt;division&gt;</c>), to follow
/// a share request or a dispute held by the provider's node, say. The forwarder writes the hop's
/// exchange log record. Runs after the gate (CallerGate, OnBehalfOfMiddleware), so only registered or vouched callers are routed.
/// </summary>
/// <remarks>Its services are singletons, taken once here: asked for per request, through the request's services, they cost three look-ups a pull.</remarks>
public sealed class NodeRoutingMiddleware(RequestDelegate next, NodeRouter router, CatalogStore catalog, TimeProvider time)
{
    /// <summary>Share applications and disputes are small; their bodies are read once to find the resource.</summary>
    private const int MaxRoutedBodyBytes = 1024 * 1024;

    public Task InvokeAsync(HttpContext context)
    {
        var routing = context.GetEndpoint()?.Metadata.GetMetadata<NodeRouting>();
        if (ListenerTag.Of(context) != Listener.Exchange
            || CallerIdentity.FromPrincipal(context.User) is not { Kind: CallerKind.Department }
            || routing is NodeRouting.Local)
        {
            return next(context);
        }

        // An exchange of a resource held here is decided without waiting (no state machine of its
        // own per request); a forward, a body to read or a refusal to write completes later.
        var routed = TryRouteAsync(context, routing, router, catalog, time);
        return routed.IsCompletedSuccessfully
            ? routed.Result ? Task.CompletedTask : next(context)
            : NextUnlessRoutedAsync(context, routed);
    }

    private async Task NextUnlessRoutedAsync(HttpContext context, Task<bool> routed)
    {
        if (!await routed)
        {
            await next(context);
        }
    }

    /// <summary>True when the request was forwarded or refused here and the answer is written.</summary>
    private static async Task<bool> TryRouteAsync(HttpContext context, NodeRouting? routing, NodeRouter router, CatalogStore catalog, TimeProvider time)
    {
        switch (routing)
        {
            case NodeRouting.ByRouteValue byRoute:
                // A malformed code is the endpoint's to refuse, with its own problem and log record.
                if (!ResourceCode.TryFromUrl(context.Request.RouteValues[byRoute.RouteValue] as string, out var resource))
                {
                    return false;
                }

                var held = catalog.Get(resource) is { Status: EntryStatus.Active };
                if (held && QueryValues.Of(context.Request, NodeRouter.NodeParameter).ToString().Length == 0)
                {
                    // Held here and no node named: the router would keep it here (TryForwardAsync), and the
                    // endpoint makes the exchange id (and its header) itself as its first step.
                    return false;
                }

                return await router.TryForwardAsync(context, resource, held, ExchangeId.ForRequest(context, time).Value);

            case NodeRouting.ByBody when HttpMethods.IsPost(context.Request.Method) && QueryValues.Of(context.Request, NodeRouter.NodeParameter).Count == 0:
                string? bodyResource;
                try
                {
                    bodyResource = await ResourceOfBodyAsync(context);
                }
                catch (IOException)
                {
                    // Past the buffer limit: an application or a dispute is never this large.
                    await JsonBody.TooLarge(MaxRoutedBodyBytes).ExecuteAsync(context);
                    return true;
                }

                return bodyResource is not null && catalog.Get(bodyResource) is null
                    && await router.TryForwardAsync(context, bodyResource, heldLocally: false, ExchangeId.New(time).Value);

            default:
                return QueryValues.Of(context.Request, NodeRouter.NodeParameter).Count > 0
                    && await router.TryForwardAsync(context, "", heldLocally: true, ExchangeId.New(time).Value);
        }
    }

    /// <summary>The body's <c>resourceCode</c>, leaving the body readable again for whoever handles it.</summary>
    private static async Task<string?> ResourceOfBodyAsync(HttpContext context)
    {
        if (context.Request.ContentLength is > MaxRoutedBodyBytes)
        {
            return null; // The endpoint refuses it with its own size limit.
        }

        context.Request.EnableBuffering(MaxRoutedBodyBytes, MaxRoutedBodyBytes);
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            context.Request.Body.Position = 0;
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("resourceCode", out var code) && code.ValueKind == JsonValueKind.String
                && ResourceCode.IsValid(code.GetString())
                    ? code.GetString()
                    : null;
        }
        catch (JsonException)
        {
            context.Request.Body.Position = 0;
            return null; // Malformed: the endpoint answers with its precise problem.
        }
    }
}
