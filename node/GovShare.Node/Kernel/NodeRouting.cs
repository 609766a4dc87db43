using Microsoft.AspNetCore.Builder;

namespace GovShare.Node.Kernel;

/// <summary>
/// Endpoint metadata that tells the hierarchy where an endpoint's resource lives, so a
/// department can reach any node of the tree through its own (Art. 21). Features mark their
/// endpoints; the hierarchy's one routing middleware reads the mark and forwards what another
/// node holds. No feature calls the hierarchy, and the hierarchy lists no paths.
/// Endpoints with no mark are routed only when the caller names a node (<c>?node=</c>).
/// </summary>
public abstract record NodeRouting
{
    private NodeRouting()
    {
    }

    /// <summary>The resource code (URL form) is the route value <paramref name="RouteValue"/>; an exchange.</summary>
    public sealed record ByRouteValue(string RouteValue) : NodeRouting;

    /// <summary>The resource code is the JSON body's <c>resourceCode</c> (a share application, a dispute).</summary>
    public sealed record ByBody : NodeRouting;

    /// <summary>Always answered by this node (the caller's identity, a child's catalog publication).</summary>
    public sealed record Local : NodeRouting;
}

/// <summary>Marks endpoints with their <see cref="NodeRouting"/>.</summary>
public static class NodeRoutingExtensions
{
    /// <summary>The endpoint's resource is the route value <paramref name="routeValue"/>; it is forwarded when another node holds it.</summary>
    public static TBuilder RoutedByResource<TBuilder>(this TBuilder builder, string routeValue)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new NodeRouting.ByRouteValue(routeValue));

    /// <summary>The endpoint's resource is the body's <c>resourceCode</c>; it is forwarded when another node holds it.</summary>
    public static TBuilder RoutedByBodyResource<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new NodeRouting.ByBody());

    /// <summary>The endpoint is never forwarded, even with <c>?node=</c>.</summary>
    public static TBuilder AnsweredLocally<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new NodeRouting.Local());
}
