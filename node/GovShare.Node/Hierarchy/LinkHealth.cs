using System.Collections.Concurrent;
using GovShare.Node.Kernel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Hierarchy;

/// <summary>The health of each link as last observed, by probe or by a failed forward.</summary>
public sealed class LinkHealth(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, LinkState> _states = new(StringComparer.Ordinal);

    public LinkState? Of(string division) => _states.TryGetValue(division, out var state) ? state : null;

    public bool IsDown(string division, out DateTimeOffset since, out string? reason)
    {
        var state = Of(division);
        since = state?.Since ?? default;
        reason = state?.Reason;
        return state is { Up: false };
    }

    public void MarkDown(string division, string reason) =>
        _states.AddOrUpdate(division, _ => new LinkState(false, time.GetUtcNow(), reason), (_, old) => old.Up ? new LinkState(false, time.GetUtcNow(), reason) : old with { Reason = reason });

    public void MarkUp(string division) =>
        _states.AddOrUpdate(division, _ => new LinkState(true, time.GetUtcNow(), null), (_, old) => old.Up ? old : new LinkState(true, time.GetUtcNow(), null));

    /// <summary>
    /// Forgets what is known of a link whose address or pinned key an operator just changed: a "down" found
    /// with the old key would otherwise refuse every exchange until the next probe (Hierarchy:HealthInterval).
    /// The next exchange or probe finds the new state.
    /// </summary>
    public void Forget(string division) => _states.TryRemove(division, out _);
}

/// <summary>Up or down since when, and why down.</summary>
public sealed record LinkState(bool Up, DateTimeOffset Since, string? Reason);

/// <summary>
/// Probes every link with an mTLS <c>GET /v1/identity</c> as this node: a link is up when the
/// other node answers as the node we linked and knows us. Marks links down and back up.
/// </summary>
public sealed partial class LinkHealthMonitor(IServiceProvider services, IOptions<HierarchyOptions> options, ILogger<LinkHealthMonitor> logger) : NodeBackgroundService
{
    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        var links = services.GetRequiredService<NodeLinkRegistry>();
        var health = services.GetRequiredService<LinkHealth>();
        var forwarder = services.GetRequiredService<NodeForwarder>();
        using var timer = new PeriodicTimer(options.Value.HealthInterval);
        do
        {
            foreach (var link in links.All())
            {
                await ProbeAsync(link, health, forwarder, stoppingToken);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task ProbeAsync(NodeLink link, LinkHealth health, NodeForwarder forwarder, CancellationToken cancellation)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(link.Url), "/v1/identity"));
        NodeForwarder.ExpectNode(request, link);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(options.Value.ConnectTimeout * 2);
        try
        {
            using var response = await forwarder.Invoker.SendAsync(request, timeout.Token);
            if (response.IsSuccessStatusCode)
            {
                if (health.Of(link.DivisionCode) is { Up: false })
                {
                    LogLinkUp(logger, link.DivisionCode);
                }

                health.MarkUp(link.DivisionCode);
                return;
            }

            Down($"answered {(int)response.StatusCode}");
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !cancellation.IsCancellationRequested)
        {
            Down(ex.Message);
        }

        void Down(string reason)
        {
            if (health.Of(link.DivisionCode) is not { Up: false })
            {
                LogLinkDown(logger, link.DivisionCode, reason);
            }

            health.MarkDown(link.DivisionCode, reason);
        }
    }

    [LoggerMessage(EventId = 7201, EventName = "LinkDown", Level = LogLevel.Warning, Message = "Link to node {Division} is down: {Reason}")]
    private static partial void LogLinkDown(ILogger logger, string division, string reason);

    [LoggerMessage(EventId = 7202, EventName = "LinkUp", Level = LogLevel.Information, Message = "Link to node {Division} is up")]
    private static partial void LogLinkUp(ILogger logger, string division);
}
