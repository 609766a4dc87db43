using System.Collections.Immutable;
using GovShare.Node.Catalog;
using GovShare.Node.Kernel;
using LiteDB;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Hierarchy;

/// <summary>A violation a child node escalated to this node's office (Art. 42), as received: the child, when, and what.</summary>
public sealed record ChildEscalation(string Id, string Child, DateTimeOffset ReceivedAt, EscalationNotice Violation);

/// <summary>
/// The escalations this node's children delivered (<c>child_escalations</c>, id
/// <c>&lt;child&gt;/&lt;violation id&gt;</c>). Receiving one is a <c>registry-change</c> change-log
/// record with entity <c>escalation/&lt;id&gt;</c> (<see cref="ChildEscalationReplayer"/>). A delivery
/// repeated (the child retries until it hears back) records nothing new.
/// </summary>
public sealed class ChildEscalations
{
    public const string EntityPrefix = "escalation/";

    private readonly IStateStore _state;
    private readonly IStateJournal _journal;
    private readonly TimeProvider _time;
    private readonly IStateDocuments<EscalationDocument> _escalations;
    private volatile ImmutableList<ChildEscalation> _snapshot;

    public ChildEscalations(NodeDataFolder data, TimeProvider time, IStateJournal journal)
    {
        ArgumentNullException.ThrowIfNull(data);
        _state = data.State;
        _journal = journal;
        _time = time;
        _escalations = data.Collection<EscalationDocument>("child_escalations", e => e.Child);
        _snapshot = Load();
        _state.OnChangedElsewhere(() => _snapshot = Load());
    }

    /// <summary>Records <paramref name="notice"/> from <paramref name="child"/>; true when new, false when it was delivered before.</summary>
    public bool Receive(string child, EscalationNotice notice, string by)
    {
        ArgumentNullException.ThrowIfNull(notice);
        var id = child + "/" + notice.ViolationId;
        return _state.Write(() =>
        {
            if (_escalations.Find(id) is not null)
            {
                return false;
            }

            var escalation = new ChildEscalation(id, child, _time.GetUtcNow(), notice);
            Apply(escalation);
            _state.MarkApplied(_journal.Append(new StateChange(Identity.DepartmentRegistry.ChangeKind, EntityPrefix + id, by, escalation.ReceivedAt,
                JsonSerializer.SerializeToElement(new EscalationRecord("received", escalation), CatalogJson.Options))));
            return true;
        });
    }

    public IReadOnlyList<ChildEscalation> All() => _snapshot;

    public IReadOnlyList<ChildEscalation> Of(string child) => [.. _snapshot.Where(e => e.Child == child)];

    internal void Apply(ChildEscalation escalation)
    {
        _escalations.Put(new EscalationDocument { Id = escalation.Id, Child = escalation.Child, Json = JsonSerializer.Serialize(escalation, CatalogJson.Options) });
        _state.AfterCommit(() => _snapshot = Load());
    }

    private ImmutableList<ChildEscalation> Load() =>
        [.. _escalations.All().Select(d => JsonSerializer.Deserialize<ChildEscalation>(d.Json, CatalogJson.Options)!).OrderBy(e => e.ReceivedAt).ThenBy(e => e.Id, StringComparer.Ordinal)];

    internal sealed class EscalationDocument
    {
        [BsonId(autoId: false)]
        public string Id { get; set; } = "";

        public string Child { get; set; } = "";

        public string Json { get; set; } = "";
    }
}

/// <summary>The <c>diff</c> of an escalation's record: <c>received</c> and the escalation. Never rename a property.</summary>
public sealed record EscalationRecord(string Action, ChildEscalation Escalation);

/// <summary>Redoes logged escalations from children (their part of the change-log replay).</summary>
public sealed class ChildEscalationReplayer(ChildEscalations escalations) : IStateReplayer
{
    public string EntityPrefix => ChildEscalations.EntityPrefix;

    public bool Replay(StateRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (JsonSerializer.Deserialize<EscalationRecord>(record.Diff, CatalogJson.Options) is not { Escalation: { } escalation })
        {
            return false;
        }

        escalations.Apply(escalation);
        return true;
    }
}

/// <summary>
/// Delivers this node's escalations to its parent's office over the parent link (Art. 42), on the
/// leader only, every <see cref="HierarchyOptions.PublishInterval"/>, each until the parent answers
/// (the parent records a violation once, so a delivery repeated after a restart or a lost answer is harmless).
/// </summary>
public sealed partial class EscalationSender(IServiceProvider services, IOptions<HierarchyOptions> hierarchy, ILogger<EscalationSender> logger) : BackgroundService
{
    private readonly HashSet<string> _delivered = new(StringComparer.Ordinal);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(hierarchy.Value.PublishInterval);
        do
        {
            try
            {
                await DeliverAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException && !stoppingToken.IsCancellationRequested)
            {
                LogFailed(logger, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task DeliverAsync(CancellationToken cancellation)
    {
        if (services.GetService<IEscalationSource>() is not { } source
            || services.GetRequiredService<NodeLinkRegistry>().Parent() is not { } parent
            || !services.GetRequiredService<NodeDataFolder>().State.IsLeader)
        {
            return;
        }

        foreach (var notice in source.EscalatedTo($"{Identity.CallerIdentity.Scheme}:node/{parent.DivisionCode}"))
        {
            var key = parent.DivisionCode + "/" + notice.ViolationId;
            if (_delivered.Contains(key))
            {
                continue;
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(parent.Url), HierarchyApi.EscalationsPath))
            {
                Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(notice, CatalogJson.Options)) { Headers = { ContentType = new("application/json") } },
            };
            NodeForwarder.ExpectNode(request, parent);
            using var response = await services.GetRequiredService<NodeForwarder>().Invoker.SendAsync(request, cancellation);
            if (!response.IsSuccessStatusCode)
            {
                // A refusal is logged and retried: the parent's office may fix the link, and nothing is lost meanwhile.
                LogFailed(logger, $"{notice.ViolationId}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellation)}");
                continue;
            }

            _delivered.Add(key);
            LogDelivered(logger, notice.ViolationId, parent.DivisionCode);
        }
    }

    [LoggerMessage(EventId = 7303, EventName = "EscalationDelivered", Level = LogLevel.Information, Message = "Delivered escalated violation {ViolationId} to the office of parent {Parent}")]
    private static partial void LogDelivered(ILogger logger, string violationId, string parent);

    [LoggerMessage(EventId = 7304, EventName = "EscalationDeliveryFailed", Level = LogLevel.Warning, Message = "Delivering an escalation to the parent failed, will retry: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
