using System.Security.Cryptography;
using System.Text.Json;
using GovShare.Node.Catalog;
using GovShare.Node.Kernel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Hierarchy;

/// <summary>
/// Publishes this node's subtree sharing catalog (its own plus what its children published) to
/// its parent whenever it changed, and again after a failure, so the parent's aggregate catches
/// up with every change without a change feed to lose.
/// </summary>
public sealed partial class CatalogPublisher(IServiceProvider services, IOptions<HierarchyOptions> hierarchy, IOptions<NodeOptions> node, ILogger<CatalogPublisher> logger) : NodeBackgroundService
{
    private string? _published;

    /// <summary>
    /// The publication of this node's subtree as it stands; with <paramref name="nationalOnly"/> (a parent
    /// outside this node's province: the national node, Art. 21) only the entries whose provider set the
    /// national scope, this node's own and its children's alike: the rest never leaves the province.
    /// </summary>
    public static CatalogPublication Snapshot(CatalogStore catalog, CatalogAggregate aggregate, string self, bool nationalOnly = false)
    {
        var entries = new List<AggregatedEntry>();
        for (var page = 1; ; page++)
        {
            var result = catalog.ListSharing(new CatalogQuery(Page: page, PageSize: CatalogQuery.MaxPageSize));
            entries.AddRange(result.Entries.Select(e => new AggregatedEntry(self, e)));
            if (page * result.PageSize >= result.Total)
            {
                break;
            }
        }

        entries.AddRange(aggregate.All());
        return new CatalogPublication(nationalOnly ? [.. entries.Where(e => e.Entry.Scope == SharingScope.National)] : entries);
    }

    /// <summary>True when <paramref name="parent"/> lies outside <paramref name="self"/>'s province: only nationally scoped entries go to it.</summary>
    public static bool LeavesProvince(string self, string parent) => !DivisionCode.IsWithin(parent, DivisionCode.ProvinceOf(self));

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(hierarchy.Value.PublishInterval);
        do
        {
            try
            {
                await PublishIfChangedAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException && !stoppingToken.IsCancellationRequested)
            {
                LogPublishFailed(logger, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task PublishIfChangedAsync(CancellationToken cancellation)
    {
        var links = services.GetRequiredService<NodeLinkRegistry>();
        // Once per node, not once per replica: only the leader publishes (State:Backend=postgresql).
        if (links.Parent() is not { } parent || !services.GetRequiredService<NodeDataFolder>().State.IsLeader)
        {
            _published = null;
            return;
        }

        var publication = Snapshot(services.GetRequiredService<CatalogStore>(), services.GetRequiredService<CatalogAggregate>(), node.Value.DivisionCode, LeavesProvince(node.Value.DivisionCode, parent.DivisionCode));
        var body = JsonSerializer.SerializeToUtf8Bytes(publication, CatalogJson.Options);
        var fingerprint = parent.DivisionCode + ":" + Convert.ToHexString(SHA256.HashData(body));
        if (fingerprint == _published)
        {
            return;
        }

        // Signed with this node's key (Art. 12 filing: the parent keeps which node filed what); subject: the payload's SHA-256.
        var channel = services.GetRequiredService<ParentChannel>();
        var submission = channel.Sign(CatalogFilings.SubmissionKind, Convert.ToHexStringLower(SHA256.HashData(body)), body);
        using var response = await channel.SendAsync(parent, HttpMethod.Put, HierarchyApi.PublishPath, submission, cancellation);
        if (!response.IsSuccessStatusCode)
        {
            LogPublishFailed(logger, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellation)}");
            return;
        }

        _published = fingerprint;
        LogPublished(logger, publication.Entries.Count, parent.DivisionCode);
    }

    [LoggerMessage(EventId = 7301, EventName = "CatalogPublished", Level = LogLevel.Information, Message = "Published {Count} sharing-catalog entries of this subtree to parent {Parent}")]
    private static partial void LogPublished(ILogger logger, int count, string parent);

    [LoggerMessage(EventId = 7302, EventName = "CatalogPublishFailed", Level = LogLevel.Warning, Message = "Publishing the catalog to the parent failed, will retry: {Reason}")]
    private static partial void LogPublishFailed(ILogger logger, string reason);
}
