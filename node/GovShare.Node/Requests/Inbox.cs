using GovShare.Node.Calendar;
using GovShare.Node.Identity;

namespace GovShare.Node.Requests;

/// <summary>
/// What a department has to see to or has received, as of <see cref="AsOf"/> (China date):
/// requests to decide (provider), its own requests awaiting a decision and those decided
/// (user, the latest <see cref="Inbox.MaxDecided"/>), grants ending within 10 working days,
/// suspended grants with their reason, open disputes on both sides, complaints to answer, consent
/// applications to answer, and the notices of violations to rectify (Art. 42).
/// </summary>
public sealed record DepartmentInbox(
    string Department,
    DateOnly AsOf,
    IReadOnlyList<ShareRequest> ToDecide,
    IReadOnlyList<ShareRequest> AwaitingDecision,
    IReadOnlyList<ShareRequest> DecisionsReceived,
    IReadOnlyList<Grant> GrantsEnding,
    IReadOnlyList<Grant> SuspendedGrants,
    IReadOnlyList<Dispute> DisputesToAnswer,
    IReadOnlyList<Dispute> DisputesRaised,
    IReadOnlyList<Complaint> ComplaintsToAnswer,
    IReadOnlyList<OnwardConsent> ConsentsToAnswer,
    IReadOnlyList<InboxNotice> Notices,
    CertificateNotice? CertificateExpiring = null);

/// <summary>
/// A notice to a department (Art. 42): a violation found in its records, the day it must be put right
/// by, and where it stands (<c>notified</c>, <c>escalated</c>); rectified ones leave the inbox.
/// </summary>
public sealed record InboxNotice(
    string Id,
    string Kind,
    string Rule,
    string? ResourceCode,
    string Summary,
    DateOnly NotifiedOn,
    DateOnly RectifyBy,
    bool RectifyByProvisional,
    string Status,
    bool RectificationOverdue,
    string? EscalatedTo);

/// <summary>
/// Where a department's notices come from: the evaluation (above this feature in the layers) supplies
/// them from its violations, so the inbox shows them without the requests feature knowing violations.
/// </summary>
public interface IInboxNoticeSource
{
    /// <summary>The department's open notices, the oldest deadline first.</summary>
    IReadOnlyList<InboxNotice> NoticesOf(string divisionCode, string creditCode);
}

/// <summary>
/// The department's certificate (the one it called with) expires within <see cref="Inbox.CertificateNoticeDays"/>:
/// past <see cref="NotAfter"/> the node refuses it (fail closed), so it should ask its CA for a renewal now.
/// </summary>
public sealed record CertificateNotice(string Serial, DateTimeOffset NotAfter, int DaysLeft, string Notice);

/// <summary>Builds a department's inbox from the request, grant and dispute stores.</summary>
public sealed class Inbox(ShareRequestStore requests, DisputeStore disputes, ComplaintStore complaints, ConsentStore consents, IEnumerable<IInboxNoticeSource> notices,
    WorkingDayCalendar calendar, TimeProvider time)
{
    /// <summary>How many decided requests the inbox lists; the full history is <c>GET /v1/requests</c>.</summary>
    public const int MaxDecided = 100;

    /// <summary>How many days before its certificate expires a department is told in its inbox.</summary>
    public const int CertificateNoticeDays = 30;

    /// <param name="caller">The department.</param>
    /// <param name="presented">The certificate it called with, when its own (not a forwarding node's): checked for expiry.</param>
    public DepartmentInbox For(CallerIdentity caller, System.Security.Cryptography.X509Certificates.X509Certificate2? presented = null)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var now = time.GetUtcNow();
        var today = WorkingDayCalendar.ToChinaDate(now);
        var horizon = calendar.AddWorkingDays(today, ShareRequestStore.EndingWithinWorkingDays, out _);
        var mine = requests.List(caller, PartyRole.User);
        var held = requests.Grants(caller, PartyRole.User);
        return new DepartmentInbox(
            caller.Uri,
            today,
            requests.List(caller, PartyRole.Provider, ShareRequestStatus.Submitted).OrderBy(r => r.Due).ToList(),
            mine.Where(r => r.Status == ShareRequestStatus.Submitted).ToList(),
            mine.Where(r => r.Status is ShareRequestStatus.Approved or ShareRequestStatus.Denied or ShareRequestStatus.Expired)
                .OrderByDescending(r => r.StatusChangedAt).Take(MaxDecided).ToList(),
            // A grant's last day is the day before ValidTo (exclusive end, China time).
            held.Where(g => g.Status == GrantStatus.Active && g.IsEffective(now) && WorkingDayCalendar.ToChinaDate(g.ValidTo).AddDays(-1) <= horizon)
                .OrderBy(g => g.ValidTo).ToList(),
            held.Where(g => g.Status == GrantStatus.Suspended).ToList(),
            disputes.List(caller, PartyRole.Provider, DisputeStatus.Open).OrderBy(d => d.Due).ToList(),
            disputes.List(caller, PartyRole.User),
            [.. complaints.List(caller, PartyRole.Provider, ComplaintStatus.Open).OrderBy(c => c.Due)],
            consents.List(caller, PartyRole.Provider, ConsentStatus.Applied),
            [.. notices.SelectMany(n => n.NoticesOf(caller.DivisionCode, caller.CreditCode!))],
            Notice(presented, now));
    }

    private static CertificateNotice? Notice(System.Security.Cryptography.X509Certificates.X509Certificate2? presented, DateTimeOffset now)
    {
        if (presented is null)
        {
            return null;
        }

        var notAfter = new DateTimeOffset(presented.NotAfter.ToUniversalTime());
        var left = notAfter - now;
        if (left > TimeSpan.FromDays(CertificateNoticeDays))
        {
            return null;
        }

        var days = (int)Math.Max(0, Math.Floor(left.TotalDays));
        return new CertificateNotice(presented.SerialNumber, notAfter, days,
            string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"Your certificate (serial {presented.SerialNumber}) expires at {notAfter:u}, in {days} days; after that this node refuses it. Ask your CA for a renewal now (same identity, new key): the old certificate keeps working until then."));
    }
}
