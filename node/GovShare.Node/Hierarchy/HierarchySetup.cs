using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Hierarchy;

public static class HierarchySetup
{
    public static IServiceCollection AddGovShareHierarchy(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<UpstreamOptions>(configuration.GetSection(UpstreamOptions.Section));
        services.Configure<HierarchyOptions>(configuration.GetSection(HierarchyOptions.Section));
        services.AddSingleton<NodeLinkRegistry>();
        services.AddSingleton<IStateReplayer, NodeLinkReplayer>();
        services.AddSingleton<IAuthorizationHandler, LinkedNodeHandler>();
        services.AddSingleton<LinkHealth>();
        services.AddHttpForwarder();
        services.AddSingleton<NodeForwarder>();
        services.AddSingleton<PeerKeyProbe>();
        services.AddHostedService<LinkHealthMonitor>();
        services.AddSingleton<CatalogAggregate>();
        services.AddSingleton<NodeRouter>();
        services.AddHostedService<CatalogPublisher>();
        return services;
    }

    /// <summary>Makes the configured parent link, if settings name one; a bad one stops the node.</summary>
    public static void SeedParent(this NodeLinkRegistry links, UpstreamOptions upstream)
    {
        if (string.IsNullOrWhiteSpace(upstream.ParentUrl) && string.IsNullOrWhiteSpace(upstream.ParentDivisionCode))
        {
            return;
        }

        // A parent from settings is pinned from settings too: at start the parent may be down, and
        // a key read from whatever answers at its address would pin an impostor as readily.
        var errors = links.Link(upstream.ParentDivisionCode ?? "", LinkRole.Parent, upstream.ParentUrl ?? "", upstream.ParentKeySha256, out _);
        if (errors.Count > 0)
        {
            throw new Kernel.NodeConfigurationException(errors.Select(e => $"{UpstreamOptions.Section}: {e}").ToList());
        }
    }
}
