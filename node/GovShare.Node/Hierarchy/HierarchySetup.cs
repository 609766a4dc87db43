using GovShare.Node.Kernel;
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
        services.AddSingleton<LinkedNodeRequests>();
        services.AddSingleton<LinkHealth>();
        services.AddSingleton<LinkGauges>();
        services.AddHttpForwarder();
        services.AddSingleton<NodeForwarder>();
        services.AddSingleton<PeerKeyProbe>();
        services.AddHostedService<LinkHealthMonitor>();
        services.AddSingleton<CatalogAggregate>();
        services.AddSingleton<CatalogFilings>();
        services.AddSingleton<IStateReplayer, CatalogFilingReplayer>();
        services.AddSingleton<ChildEscalations>();
        services.AddSingleton<IStateReplayer, ChildEscalationReplayer>();
        services.AddHostedService<EscalationSender>();
        services.AddSingleton<ParentChannel>();
        services.AddSingleton<ParentFilings>();
        services.AddSingleton<IStateReplayer, ParentFilingReplayer>();
        services.AddHostedService<ParentFilingReader>();
        services.AddSingleton<NodeRouter>();
        services.AddHostedService<CatalogPublisher>();
        return services;
    }

    /// <summary>
    /// Makes the configured parent link, if settings name one; a bad one stops the node. A link
    /// already as configured is left alone, so a restart writes no change-log record; a changed
    /// one is recorded as made by the node itself (<c>govshare:node/&lt;division&gt;</c>) from its settings.
    /// </summary>
    public static void SeedParent(this NodeLinkRegistry links, UpstreamOptions upstream, string selfDivision)
    {
        if (string.IsNullOrWhiteSpace(upstream.ParentUrl) && string.IsNullOrWhiteSpace(upstream.ParentDivisionCode))
        {
            return;
        }

        if (links.Find(upstream.ParentDivisionCode ?? "") is { Role: LinkRole.Parent } existing
            && existing.Url == upstream.ParentUrl
            && string.Equals(existing.KeySha256, upstream.ParentKeySha256, StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        // A parent from settings is pinned from settings too: at start the parent may be down, and
        // a key read from whatever answers at its address would pin an impostor as readily.
        var errors = links.Link(upstream.ParentDivisionCode ?? "", LinkRole.Parent, upstream.ParentUrl ?? "", upstream.ParentKeySha256, out _, by: $"{Identity.CallerIdentity.Scheme}:node/{selfDivision}");
        if (errors.Count > 0)
        {
            throw new Kernel.NodeConfigurationException(errors.Select(e => $"{UpstreamOptions.Section}: {e}").ToList());
        }
    }
}
