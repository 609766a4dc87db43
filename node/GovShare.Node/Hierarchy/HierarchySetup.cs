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

        var errors = links.Link(upstream.ParentDivisionCode ?? "", LinkRole.Parent, upstream.ParentUrl ?? "", out _);
        if (errors.Count > 0)
        {
            throw new Kernel.NodeConfigurationException(errors.Select(e => $"{UpstreamOptions.Section}: {e}").ToList());
        }
    }
}
