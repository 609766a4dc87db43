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
/// One of this node's catalog filings (备案, Art. 12) as its parent's office reviewed it: the parent,
/// the filing as the parent reports it, and when this node learnt of its last review.
/// <see cref="SupersededBy"/> is a later filing of this node at the same parent: a sent-back filing
/// with none is what this node's office still has to answer (correct the catalog; the correction
/// is published, and filed, by itself).
/// </summary>
public sealed record ParentFiling(string Parent, CatalogFiling Filing, DateTimeOffset LearntAt, string? SupersededBy = null)
{
    /// <summary>True for a filing the parent sent back that no later filing answers yet: the child's office has to act.</summary>
    public bool ActionNeeded => Filing.Status == FilingStatus.SentBack && SupersededBy is null;
}

/// <summary>
/// What this node's parent decided on this node's catalog filings (<c>parent_filings</c>, by filing
/// id), fetched over the parent link by <see cref="ParentFilingReader"/>. A filing first seen, or
/// seen with a new status (approved, sent back), is a <c>registry-change</c> change-log record with
/// entity <c>parent-filing/&lt;id&gt;</c>, attributed to the parent node (its office decided), and
/// replayed by <see cref="ParentFilingReplayer"/>; reading the same status again records nothing.
/// </summary>
public sealed class ParentFilings
{
    public const string EntityPrefix = "parent-filing/";

    private readonly IStateStore _state;
    private readonly IStateJournal _journal;
    private readonly TimeProvider _time;
    private readonly IStateDocuments<ParentFilingDocument> _filings;
    private volatile ImmutableList<ParentFiling> _snapshot;

    public ParentFilings(NodeDataFolder data, TimeProvider time, IStateJournal journal)
    {
        ArgumentNullException.ThrowIfNull(data);
        _state = data.State;
        _journal = journal;
        _time = time;
        _filings = data.Collection<ParentFilingDocument>("parent_filings", f => f.Parent);
        _snapshot = Load();
        _state.OnChangedElsewhere(() => _snapshot = Load());
    }

    /// <summary>Records what <paramref name="parent"/> reports of this node's filings; returns the filings whose status is new here.</summary>
    public IReadOnlyList<ParentFiling> Learn(string parent, IReadOnlyList<CatalogFiling> reported)
    {
        ArgumentNullException.ThrowIfNull(reported);
        return _state.Write(() =>
        {
            var changed = new List<ParentFiling>();
            var now = _time.GetUtcNow();
            foreach (var filing in reported.OrderBy(f => f.ReceivedAt).ThenBy(f => f.Id, StringComparer.Ordinal))
            {
                var known = _snapshot.FirstOrDefault(f => f.Parent == parent && f.Filing.Id == filing.Id);
                var later = reported.Where(f => f.ReceivedAt > filing.ReceivedAt).OrderBy(f => f.ReceivedAt).FirstOrDefault()?.Id;
                if (known is not null && known.Filing.Status == filing.Status && known.SupersededBy == later)
                {
                    continue;
                }

                var learnt = new ParentFiling(parent, filing, known?.Filing.Status == filing.Status ? known.LearntAt : now, later);
                Apply(learnt);
                var action = known?.Filing.Status == filing.Status ? "superseded" : filing.Status switch
                {
                    FilingStatus.Approved => "approved",
                    FilingStatus.SentBack => "sent-back",
                    _ => "received",
                };
                _state.MarkApplied(_journal.Append(new StateChange(Identity.DepartmentRegistry.ChangeKind, EntityPrefix + filing.Id,
                    $"{Identity.CallerIdentity.Scheme}:node/{parent}", now, JsonSerializer.SerializeToElement(new ParentFilingRecord(action, learnt), CatalogJson.Options))));
                changed.Add(learnt);
            }

            return changed;
        });
    }

    public IReadOnlyList<ParentFiling> All() => _snapshot;

    internal void Apply(ParentFiling filing)
    {
        _filings.Put(new ParentFilingDocument { Id = filing.Filing.Id, Parent = filing.Parent, Json = JsonSerializer.Serialize(filing, CatalogJson.Options) });
        _state.AfterCommit(() => _snapshot = Load());
    }

    private ImmutableList<ParentFiling> Load() =>
        [.. _filings.All().Select(d => JsonSerializer.Deserialize<ParentFiling>(d.Json, CatalogJson.Options)!).OrderBy(f => f.Filing.ReceivedAt).ThenBy(f => f.Filing.Id, StringComparer.Ordinal)];

    internal sealed class ParentFilingDocument
    {
        [BsonId(autoId: false)]
        public string Id { get; set; } = "";

        public string Parent { get; set; } = "";

        public string Json { get; set; } = "";
    }
}

/// <summary>The <c>diff</c> of a parent filing's record: <c>received</c>, <c>approved</c>, <c>sent-back</c> or <c>superseded</c>, and the filing after it. Never rename a property.</summary>
public sealed record ParentFilingRecord(string Action, ParentFiling Filing);

/// <summary>Redoes what this node learnt of its filings at the parent (its part of the change-log replay).</summary>
public sealed class ParentFilingReplayer(ParentFilings filings) : IStateReplayer
{
    public string EntityPrefix => ParentFilings.EntityPrefix;

    public bool Replay(StateRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (JsonSerializer.Deserialize<ParentFilingRecord>(record.Diff, CatalogJson.Options) is not { Filing: { } filing })
        {
            return false;
        }

        filings.Apply(filing);
        return true;
    }
}

/// <summary>
/// Asks the parent, over the parent link as this node (mTLS, the pinned key), how its office
/// reviewed this node's catalog filings (Art. 12), on the leader only, every
/// <see cref="HierarchyOptions.PublishInterval"/>, and records what changed in <see cref="ParentFilings"/>.
/// </summary>
public sealed partial class ParentFilingReader(IServiceProvider services, IOptions<HierarchyOptions> hierarchy, ILogger<ParentFilingReader> logger) : NodeBackgroundService
{
    /// <summary>The most a parent's answer may hold: filings are small records, a node files a few a day at most.</summary>
    public const int MaxAnswerBytes = 4 * 1024 * 1024;

    protected override async Task RunAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(hierarchy.Value.PublishInterval);
        do
        {
            try
            {
                await ReadAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException or System.Text.Json.JsonException && !stoppingToken.IsCancellationRequested)
            {
                LogFailed(logger, ex.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task ReadAsync(CancellationToken cancellation)
    {
        if (services.GetRequiredService<NodeLinkRegistry>().Parent() is not { } parent
            || !services.GetRequiredService<NodeDataFolder>().State.IsLeader)
        {
            return;
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(parent.Url), HierarchyApi.FilingsPath));
        NodeForwarder.ExpectNode(request, parent);
        using var response = await services.GetRequiredService<NodeForwarder>().Invoker.SendAsync(request, cancellation);
        if (!response.IsSuccessStatusCode)
        {
            LogFailed(logger, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellation)}");
            return;
        }

        if (response.Content.Headers.ContentLength > MaxAnswerBytes)
        {
            LogFailed(logger, $"the answer is larger than {MaxAnswerBytes} bytes");
            return;
        }

        var reported = await JsonSerializer.DeserializeAsync<List<CatalogFiling>>(await response.Content.ReadAsStreamAsync(cancellation), CatalogJson.Options, cancellation) ?? [];
        foreach (var changed in services.GetRequiredService<ParentFilings>().Learn(parent.DivisionCode, reported))
        {
            LogLearnt(logger, changed.Filing.Id, changed.Filing.Status, parent.DivisionCode, changed.Filing.Reason ?? "");
        }
    }

    [LoggerMessage(EventId = 7305, EventName = "ParentFilingReviewed", Level = LogLevel.Information, Message = "Catalog filing {FilingId} is {Status} at parent {Parent} {Reason}")]
    private static partial void LogLearnt(ILogger logger, string filingId, FilingStatus status, string parent, string reason);

    [LoggerMessage(EventId = 7306, EventName = "ParentFilingReadFailed", Level = LogLevel.Warning, Message = "Reading the filings' review from the parent failed, will retry: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
