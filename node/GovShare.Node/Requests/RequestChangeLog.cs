using System.Text.Json;
using GovShare.Node.Catalog;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Requests;

/// <summary>
/// Puts every share-request, grant and dispute transition into the tamper-evident change log as
/// well as the requests' own change stream.
/// </summary>
/// <remarks>
/// The change log is also the write-ahead log of requests, grants and disputes: the record carries
/// the subject as stored (<c>after</c>) and its sequence becomes the state's watermark in the same
/// transaction, so <see cref="RequestReplayer"/> can redo a transition the database lost.
/// </remarks>
public sealed class RequestChangeLog(IRequestChangeSink inner, ChangeLogJournal journal, NodeDataFolder data) : IRequestChangeSink
{
    /// <summary>Wraps the registered request change sink; call after the requests and the logs are added.</summary>
    public static void AddTo(IServiceCollection services) =>
        services.Decorate<IRequestChangeSink>((sp, inner) => new RequestChangeLog(inner, sp.GetRequiredService<ChangeLogJournal>(), sp.GetRequiredService<NodeDataFolder>()));

    public RequestChange Append(RequestChange change)
    {
        var stored = inner.Append(change);
        var kind = stored.Subject switch
        {
            RequestSubject.Grant => ExchangeKind.GrantChange,
            RequestSubject.Dispute => ExchangeKind.DisputeChange,
            RequestSubject.Consent => ExchangeKind.ConsentChange,
            RequestSubject.Complaint => ExchangeKind.ComplaintChange,
            _ => ExchangeKind.RequestDecision,
        };
        var sequence = journal.Append(kind, $"{stored.Subject.ToString().ToLowerInvariant()}/{stored.SubjectId}", stored.By, stored.At,
            JsonSerializer.SerializeToElement(new { from = stored.From, to = stored.To, detail = stored.Detail, requestSequence = stored.Sequence, after = stored.After }, CatalogJson.Options),
            stored.ResourceCode.Length > 0 ? stored.ResourceCode : null);
        data.State.MarkApplied(sequence);
        return stored;
    }

    public IReadOnlyList<RequestChange> Read(long afterSequence, int limit, string? subjectId = null) => inner.Read(afterSequence, limit, subjectId);
}

/// <summary>
/// Redoes logged transitions of one subject kind (the requests' part of the change-log replay):
/// the subject's after-image is stored as it was, and the transition goes back into the requests'
/// change stream under its own sequence.
/// </summary>
public sealed class RequestReplayer(RequestSubject subject, NodeDataFolder data, IServiceProvider services) : IStateReplayer
{
    private readonly StateRequestChangeSink _stream = new(data);

    public string EntityPrefix { get; } = subject.ToString().ToLowerInvariant() + "/";

    /// <summary>One replayer per subject kind: <c>request/</c>, <c>grant/</c>, <c>dispute/</c>, <c>consent/</c>, <c>complaint/</c>.</summary>
    public static void AddTo(IServiceCollection services)
    {
        foreach (var subject in Enum.GetValues<RequestSubject>())
        {
            services.AddSingleton<IStateReplayer>(sp =>
            {
                // Every store is built now, on the host's start-up thread (Kernel/README.md: collections open before serving).
                _ = sp.GetRequiredService<ShareRequestStore>();
                _ = sp.GetRequiredService<GrantStore>();
                _ = sp.GetRequiredService<DisputeStore>();
                _ = sp.GetRequiredService<ConsentStore>();
                _ = sp.GetRequiredService<ComplaintStore>();
                return new RequestReplayer(subject, sp.GetRequiredService<NodeDataFolder>(), sp);
            });
        }
    }

    public bool Replay(StateRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var diff = record.Diff.Deserialize<LoggedTransition>(CatalogJson.Options);
        if (diff?.After is not { } after || diff.To is null)
        {
            return false;
        }

        string resourceCode;
        switch (subject)
        {
            case RequestSubject.Request:
                var request = after.Deserialize<ShareRequest>(CatalogJson.Options)!;
                services.GetRequiredService<ShareRequestStore>().Write(request);
                resourceCode = request.ResourceCode;
                break;
            case RequestSubject.Grant:
                var grant = after.Deserialize<Grant>(CatalogJson.Options)!;
                services.GetRequiredService<GrantStore>().Save(grant);
                resourceCode = grant.ResourceCode;
                break;
            case RequestSubject.Consent:
                var consent = after.Deserialize<OnwardConsent>(CatalogJson.Options)!;
                services.GetRequiredService<ConsentStore>().Write(consent);
                resourceCode = consent.ResourceCode;
                break;
            case RequestSubject.Complaint:
                var complaint = after.Deserialize<Complaint>(CatalogJson.Options)!;
                services.GetRequiredService<ComplaintStore>().Write(complaint);
                resourceCode = complaint.ResourceCode ?? "";
                break;
            default:
                var dispute = after.Deserialize<Dispute>(CatalogJson.Options)!;
                services.GetRequiredService<DisputeStore>().Write(dispute);
                resourceCode = dispute.ResourceCode;
                break;
        }

        _stream.Restore(new RequestChange(diff.RequestSequence, subject, record.Entity[EntityPrefix.Length..], resourceCode, diff.From, diff.To, record.By, record.At, diff.Detail));
        return true;
    }

    private sealed record LoggedTransition(string? From, string? To, string? Detail, long RequestSequence, JsonElement? After);
}
