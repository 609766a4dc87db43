using System.Text.Json;
using GovShare.Node.Catalog;
using GovShare.Node.Exchange;
using GovShare.Node.Kernel;
using GovShare.Node.Identity;
using Microsoft.AspNetCore.Http;
using GovShare.Node.Logs;

namespace GovShare.Node.Hierarchy;

/// <summary>
/// Lets a department reach any node of the tree through its own (Art. 21): a request naming
/// another node (<c>?node=&lt;division&gt;</c>) is routed there — to follow a share request or a
/// dispute held by the provider's node, say — and a share application or dispute for a resource
/// this node does not hold goes to the node that does, found as a pull is. Exchanges
/// (<c>/v1/resources/…</c>) route themselves, with their own exchange log records.
/// </summary>
public sealed class TreeAddressingMiddleware(RequestDelegate next)
{
    /// <summary>Share applications and disputes are small; their bodies are read once to find the resource.</summary>
    private const int MaxRoutedBodyBytes = 1024 * 1024;

    public async Task InvokeAsync(HttpContext context, NodeRouter router, CatalogStore catalog, TimeProvider time)
    {
        var path = context.Request.Path;
        if (ListenerTag.Of(context) != Listener.Exchange
            || CallerIdentity.FromPrincipal(context.User) is not { Kind: CallerKind.Department }
            || path.StartsWithSegments("/v1/resources") || path.StartsWithSegments("/v1/identity") || path.StartsWithSegments(HierarchyApi.PublishPath))
        {
            await next(context);
            return;
        }

        var exchangeId = ExchangeId.New(time).Value;
        if (context.Request.Query.ContainsKey(NodeRouter.NodeParameter))
        {
            if (!await router.TryForwardAsync(context, "", heldLocally: true, exchangeId))
            {
                await next(context);
            }

            return;
        }

        if (HttpMethods.IsPost(context.Request.Method) && (path.Equals("/v1/requests", StringComparison.Ordinal) || path.Equals("/v1/disputes", StringComparison.Ordinal)))
        {
            string? resource;
            try
            {
                resource = await ResourceOfBodyAsync(context);
            }
            catch (IOException)
            {
                // Past the buffer limit: an application or a dispute is never this large.
                await JsonBody.TooLarge(MaxRoutedBodyBytes).ExecuteAsync(context);
                return;
            }

            if (resource is not null && catalog.Get(resource) is null
                && await router.TryForwardAsync(context, resource, heldLocally: false, exchangeId))
            {
                return;
            }
        }

        await next(context);
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
