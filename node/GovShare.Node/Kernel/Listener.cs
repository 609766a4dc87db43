using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;

namespace GovShare.Node.Kernel;

/// <summary>
/// Which Kestrel listener a request came in on. The exchange listener (mTLS, departments and
/// nodes) and the management listener (probes and operator API, loopback) share one
/// process but never one endpoint: a route belongs to exactly one of them.
/// </summary>
public enum Listener
{
    Exchange,
    Management,
}

/// <summary>Endpoint metadata: the route is served on the management listener only.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method)]
public sealed class ManagementEndpointAttribute : Attribute;

internal static class ListenerTag
{
    /// <summary>The connection items' key: an object of its own, hashed by reference (a string key was hashed per look-up).</summary>
    private static readonly object Key = new();

    public static Func<Microsoft.AspNetCore.Connections.ConnectionDelegate, Microsoft.AspNetCore.Connections.ConnectionDelegate> Tag(Listener listener) =>
        next => connection =>
        {
            connection.Items[Key] = listener;
            return next(connection);
        };

    /// <remarks>
    /// Asked twice a request (the gate, routing). The feature is looked up by
    /// its type through the collection's indexer, not <c>Get&lt;T&gt;()</c>: that is a generic interface
    /// method, resolved at run time on each call, twice (Kestrel's request features, then its connection's).
    /// </remarks>
    public static Listener Of(HttpContext context) =>
        context.Features[typeof(IConnectionItemsFeature)] is IConnectionItemsFeature { Items: var items }
        && items.TryGetValue(Key, out var value) && value is Listener listener
            ? listener
            : Listener.Exchange;
}
