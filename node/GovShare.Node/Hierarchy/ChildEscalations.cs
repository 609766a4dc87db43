using System.Collections.Immutable;
using GovShare.Node.Catalog;
using GovShare.Node.Kernel;
using LiteDB;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Hierarchy;

/// <summary>
/// A violation a child node escalated to this node's office (Art. 42), as received: the child, when, and
/// what (<see cref="EscalationNotice.RectifiedAt"/> once the child reports it put right). When this
/// office cannot resolve it and has a parent of its own, it passes it up: <see cref="PassedUp"/>.
/// </summary>
public sealed record ChildEscalation(string Id, string Child, DateTimeOffset ReceivedAt, EscalationNotice Violation)
{
    /// <summary>When the child last changed it (its rectification); null while as first received.</summary>
    public DateTimeOffset? UpdatedAt { get; init; }

    /// <summary>Passed on to this node's parent's office, by whom and why; null while this office holds it.</summary>
    public EscalationPassUp? PassedUp { get; init; }
}

/// <summary>An escalation passed on to the parent node's office (<see cref="To"/>, <c>govshare:node/&lt;division&gt;</c>): by which operator, when, why.</summary>
public sealed record EscalationPassUp(string To, string By, DateTimeOffset At, string Reason);

/// <summary>What receiving an escalation did.</summary>
public enum EscalationReceipt
{
    /// <summary>First delivery: recorded.</summary>
    Recorded,

    /// <summary>The child rectified it since: the copy here follows.</summary>
    Updated,

    /// <summary>Delivered before as it is: nothing new.</summary>
    Unchanged,
}

/// <summary>How passing an escalation up ended.</summary>
public enum PassUpOutcome
{
    Ok,
    NotFound,
    Invalid,

    /// <summary>This node has no parent: the top of the tree reports to the leading group (the annual report).</summary>
    NoParent,

    /// <summary>Rectified already, or passed up before.</summary>
    Conflict,
}

/// <summary>
/// The escalations this node's children delivered (<c>child_escalations</c>, id
/// <c>&lt;child&gt;/&lt;violation id&gt;</c>, or <c>&lt;child&gt;/&lt;origin&gt;/&lt;violation id&gt;</c> for one
/// the child passed up from its own child). Receiving one, its rectification reported by the child,
/// and the office passing it up are <c>registry-change</c> change-log records with entity
/// <c>escalation/&lt;id&gt;</c> and the escalation after the step (<see cref="ChildEscalationReplayer"/>).
/// A delivery repeated (the child retries until it hears back) records nothing new.
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

    /// <summary>The id of <paramref name="notice"/> from <paramref name="child"/>.</summary>
    public static string IdOf(string child, EscalationNotice notice)
    {
        ArgumentNullException.ThrowIfNull(notice);
        return notice.Origin is { } origin ? $"{child}/{origin}/{notice.ViolationId}" : $"{child}/{notice.ViolationId}";
    }

    /// <summary>
    /// Records <paramref name="notice"/> from <paramref name="child"/>: new, or the child's report that it was
    /// rectified (only that changes a copy: the rest of a violation is fixed when it is escalated).
    /// </summary>
    public EscalationReceipt Receive(string child, EscalationNotice notice, string by, out ChildEscalation stored)
    {
        ArgumentNullException.ThrowIfNull(notice);
        var id = IdOf(child, notice);
        (var receipt, stored) = _state.Write(() =>
        {
            var now = _time.GetUtcNow();
            if (Find(id) is { } known)
            {
                if (known.Violation.RectifiedAt is not null || notice.RectifiedAt is null)
                {
                    return (EscalationReceipt.Unchanged, known);
                }

                var rectified = known with { Violation = known.Violation with { RectifiedAt = notice.RectifiedAt }, UpdatedAt = now };
                Apply(rectified);
                Journal("rectified", rectified, by, now);
                return (EscalationReceipt.Updated, rectified);
            }

            var escalation = new ChildEscalation(id, child, now, notice);
            Apply(escalation);
            Journal("received", escalation, by, now);
            return (EscalationReceipt.Recorded, escalation);
        });
        return receipt;
    }

    /// <summary>
    /// The office passes a child's escalation it cannot resolve on to its parent's office
    /// (<paramref name="parent"/>, null when this node has none); the reason is required.
    /// </summary>
    public PassUpOutcome PassUp(string id, string? parent, string? reason, string by, out ChildEscalation? passed)
    {
        passed = null;
        reason = string.IsNullOrWhiteSpace(reason) ? null : reason.Trim();
        if (reason is null || reason.Length > CatalogLimits.MaxConditionLength)
        {
            return PassUpOutcome.Invalid;
        }

        if (parent is null)
        {
            return PassUpOutcome.NoParent;
        }

        var result = _state.Write(() =>
        {
            if (Find(id) is not { } escalation)
            {
                return (PassUpOutcome.NotFound, (ChildEscalation?)null);
            }

            if (escalation.Violation.RectifiedAt is not null || escalation.PassedUp is not null)
            {
                return (PassUpOutcome.Conflict, escalation);
            }

            var now = _time.GetUtcNow();
            var after = escalation with { PassedUp = new EscalationPassUp($"{Identity.CallerIdentity.Scheme}:node/{parent}", by, now, reason) };
            Apply(after);
            Journal("passed-up", after, by, now);
            return (PassUpOutcome.Ok, after);
        });
        passed = result.Item2;
        return result.Item1;
    }

    /// <summary>
    /// The escalations this office passed up to <paramref name="target"/>, as they travel on: the department,
    /// summary and rectification of the child's, the origin (the node that found it), and this office's reason.
    /// </summary>
    public IReadOnlyList<EscalationNotice> PassedUpTo(string target) =>
        [.. _snapshot.Where(e => e.PassedUp?.To == target).Select(e => e.Violation with
        {
            Origin = e.Violation.Origin ?? e.Child,
            EscalatedAt = e.PassedUp!.At,
            PassUpReason = e.PassedUp.Reason,
        })];

    /// <summary>The stored escalation (read from the state, not the snapshot, so a write sees the one before it).</summary>
    public ChildEscalation? Find(string id) =>
        _escalations.Find(id) is { } doc ? JsonSerializer.Deserialize<ChildEscalation>(doc.Json, CatalogJson.Options) : null;

    private void Journal(string action, ChildEscalation escalation, string by, DateTimeOffset at) =>
        _state.MarkApplied(_journal.Append(new StateChange(Identity.DepartmentRegistry.ChangeKind, EntityPrefix + escalation.Id, by, at,
            JsonSerializer.SerializeToElement(new EscalationRecord(action, escalation), CatalogJson.Options))));

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

/// <summary>The <c>diff</c> of an escalation's record: <c>received</c>, <c>rectified</c> or <c>passed-up</c>, and the escalation after it. Never rename a property.</summary>
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
/// Delivers this node's escalations to its parent's office over the parent link (Art. 42) — its own,
/// and its children's that its office passed up — on the leader only, every
/// <see cref="HierarchyOptions.PublishInterval"/>, each until the parent answers, and again once
/// rectified (the parent records each state once, so a delivery repeated after a restart or a lost
/// answer is harmless). The parent is whatever node this one is linked to as its parent.
/// </summary>
public sealed partial class EscalationSender(IServiceProvider services, IOptions<HierarchyOptions> hierarchy, ILogger<EscalationSender> logger) : NodeBackgroundService
{
    private readonly HashSet<string> _delivered = new(StringComparer.Ordinal);

    protected override async Task RunAsync(CancellationToken stoppingToken)
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
        if (services.GetRequiredService<NodeLinkRegistry>().Parent() is not { } parent
            || !services.GetRequiredService<NodeDataFolder>().State.IsLeader)
        {
            return;
        }

        // This node's own escalations, and its children's that its office passed up: each delivered again when rectified.
        var target = $"{Identity.CallerIdentity.Scheme}:node/{parent.DivisionCode}";
        var own = services.GetService<IEscalationSource>()?.EscalatedTo(target) ?? [];
        foreach (var notice in own.Concat(services.GetRequiredService<ChildEscalations>().PassedUpTo(target)))
        {
            var key = $"{parent.DivisionCode}/{notice.Origin}/{notice.ViolationId}/{(notice.RectifiedAt is null ? "escalated" : "rectified")}";
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
