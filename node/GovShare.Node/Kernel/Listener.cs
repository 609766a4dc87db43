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
    private const string Key = "govshare.listener";

    public static Func<Microsoft.AspNetCore.Connections.ConnectionDelegate, Microsoft.AspNetCore.Connections.ConnectionDelegate> Tag(Listener listener) =>
        next => connection =>
        {
            connection.Items[Key] = listener;
            return next(connection);
        };

    public static Listener Of(HttpContext context) =>
        context.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(Key, out var value) == true && value is Listener listener
            ? listener
            : Listener.Exchange;
}
