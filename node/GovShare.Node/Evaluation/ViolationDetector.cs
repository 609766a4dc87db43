using System.Globalization;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Identity;
using GovShare.Node.Logs;
using GovShare.Node.Requests;

namespace GovShare.Node.Evaluation;

/// <summary>The rule names a violation carries (stable; <c>README.md</c> defines each).</summary>
public static class ViolationRules
{
    public const string CatalogNotCompiled = "catalog-not-compiled";
    public const string CatalogStale = "catalog-stale";
    public const string DataLate = "data-late";
    public const string DisputeConfirmed = "dispute-confirmed";
    public const string DisputeUnanswered = "dispute-unanswered";
    public const string PurposeMismatch = "purpose-mismatch";
    public const string RepeatedNoGrant = "repeated-no-grant";
    public const string OnwardNotConsented = "onward-not-consented";
    public const string RequestOverdue = "request-overdue";
    public const string ComplaintUnanswered = "complaint-unanswered";
    public const string CatalogUpdateMissed = "catalog-update-missed";
}

/// <summary>
/// Finds the violations of Art. 42 in an <see cref="EvaluationSnapshot"/>. Pure and
/// deterministic: each occurrence has a key derived from the records it rests on, so scanning
/// the same (or a longer) log finds the same keys again and the store records each once.
/// </summary>
public sealed class ViolationDetector(ScorecardCalculator calculator, EvaluationOptions options)
{
    public IReadOnlyList<ViolationFinding> Detect(EvaluationSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var findings = new List<ViolationFinding>();
        NotCompiled(snapshot, findings);
        Stale(snapshot, findings);
        Late(snapshot, findings);
        Inconsistent(snapshot, findings);
        PurposeMismatches(snapshot, findings);
        RepeatedNoGrant(snapshot, findings);
        RequestsOverdue(snapshot, findings);
        foreach (var complaint in snapshot.Complaints)
        {
            Unanswered(snapshot, complaint, RequestSubject.Complaint, ViolationKind.ComplaintUnanswered, ViolationRules.ComplaintUnanswered,
                $"Complaint {complaint.Number} against {complaint.Respondent.Name ?? complaint.Respondent.CreditCode} was not answered by its due day {complaint.Due:yyyy-MM-dd} (Art. 29).", [], findings);
        }

        CatalogUpdatesMissed(snapshot, findings);
        return findings;
    }

    // Art. 11: a department named in a recorded duty change that did not update its catalog by the due day (late or still not).
    private static void CatalogUpdatesMissed(EvaluationSnapshot snapshot, List<ViolationFinding> findings)
    {
        foreach (var deadline in snapshot.CatalogUpdates.Where(d => d.Overdue || d.Late))
        {
            var outcome = deadline.UpdatedAt is { } at ? $"updated on {WorkingDayCalendar.ToChinaDate(at):yyyy-MM-dd}" : "not updated since";
            findings.Add(new ViolationFinding(
                $"{ViolationRules.CatalogUpdateMissed}:{deadline.DutyChange}:{deadline.Department.CreditCode}",
                ViolationKind.CatalogUpdateMissed,
                ViolationRules.CatalogUpdateMissed,
                deadline.Department,
                null,
                $"Duty change {deadline.DutyChange} ({deadline.Description}) required a catalog update by {deadline.Due:yyyy-MM-dd}{(deadline.DueProvisional ? " (provisional)" : "")}; {outcome} (Art. 11).",
                [new(snapshot.Node, "change", snapshot.ChangeLogSequence, null, snapshot.Now, $"change log read to here; the duty change is entity duty-change/{deadline.DutyChange}")],
                deadline.Due.AddDays(1)));
        }
    }

    private void NotCompiled(EvaluationSnapshot snapshot, List<ViolationFinding> findings)
    {
        foreach (var department in snapshot.Departments)
        {
            if (department.RegisteredAt is not { } registered
                || snapshot.Catalog.Any(e => e.Provider.CreditCode == department.CreditCode && e.Status == EntryStatus.Active))
            {
                continue;
            }

            var due = calculator.Calendar.AddWorkingDays(WorkingDayCalendar.ToChinaDate(registered), options.CatalogCompileWorkingDays, out _);
            if (due >= snapshot.Today)
            {
                continue;
            }

            // The evidence of an absence: how far the change log was read, and the department's own last catalog change if it had one.
            var evidence = new List<LogReference>
            {
                new(snapshot.Node, "change", snapshot.ChangeLogSequence, null, snapshot.Now, $"change log read to here: no active catalog entry of the department; registered {WorkingDayCalendar.ToChinaDate(registered):yyyy-MM-dd}, due {due:yyyy-MM-dd}"),
            };
            var own = snapshot.Catalog.Where(e => e.Provider.CreditCode == department.CreditCode).Select(e => e.ResourceCode).ToHashSet(StringComparer.Ordinal);
            if (snapshot.CatalogChanges.LastOrDefault(c => own.Contains(c.Record.ResourceCode!)) is { } last)
            {
                evidence.Add(last.Reference("the department's last catalog change (its entries are retired)"));
            }

            findings.Add(new ViolationFinding(
                $"{ViolationRules.CatalogNotCompiled}:{department.CreditCode}",
                ViolationKind.CatalogNotCompiled,
                ViolationRules.CatalogNotCompiled,
                department.Ref,
                null,
                $"{department.Name} has no active entry in the resource catalog {options.CatalogCompileWorkingDays} working days after registration (due {due:yyyy-MM-dd}).",
                evidence,
                due.AddDays(1)));
        }
    }

    private static void Stale(EvaluationSnapshot snapshot, List<ViolationFinding> findings)
    {
        var limit = snapshot.Today.AddYears(-1);
        foreach (var entry in snapshot.Catalog.Where(e => e.Status == EntryStatus.Active))
        {
            var (time, record) = ScorecardCalculator.LastMaintained(snapshot, entry, snapshot.Today);
            if (WorkingDayCalendar.ToChinaDate(time) >= limit)
            {
                continue;
            }

            var anchor = record is not null ? record.Sequence.ToString(CultureInfo.InvariantCulture) : time.UtcTicks.ToString(CultureInfo.InvariantCulture);
            findings.Add(new ViolationFinding(
                $"{ViolationRules.CatalogStale}:{entry.ResourceCode}:{anchor}",
                ViolationKind.CatalogNotUpdated,
                ViolationRules.CatalogStale,
                entry.Provider,
                entry.ResourceCode,
                $"Catalog entry {entry.ResourceCode} ({entry.Name}) was last maintained on {WorkingDayCalendar.ToChinaDate(time):yyyy-MM-dd}, more than a year ago (Art. 18).",
                record is null ? [] : [record.Reference("last catalog change")],
                WorkingDayCalendar.ToChinaDate(time).AddYears(1).AddDays(1)));
        }
    }

    private void Late(EvaluationSnapshot snapshot, List<ViolationFinding> findings)
    {
        foreach (var entry in snapshot.Catalog.Where(e => e.Status == EntryStatus.Active && e.Share.Type != ShareType.NotShared))
        {
            var pushes = snapshot.Digest.Pushes(entry.ResourceCode).OrderBy(r => r.Record.Time).ToList();
            foreach (var spell in calculator.Spells(snapshot, entry, pushes, snapshot.Today, out _))
            {
                var evidence = new List<LogReference>();
                if (spell.Since is { } since)
                {
                    evidence.Add(since);
                }

                if (spell.EndedBy is { } ended)
                {
                    evidence.Add(ended with { Note = "late push" });
                }

                var ending = spell.EndedBy is { } e ? $"data came on {WorkingDayCalendar.ToChinaDate(e.Time):yyyy-MM-dd}" : "no data since";
                findings.Add(new ViolationFinding(
                    $"{ViolationRules.DataLate}:{entry.ResourceCode}:{spell.Due:yyyy-MM-dd}",
                    ViolationKind.DataLate,
                    ViolationRules.DataLate,
                    entry.Provider,
                    entry.ResourceCode,
                    $"{entry.Name} ({entry.ResourceCode}, {entry.UpdateCycle}) was due to be updated by {spell.Due:yyyy-MM-dd}{(spell.DueProvisional ? " (provisional)" : "")}"
                    + $"{(spell.SourceChangedOn is { } changed ? $", {options.DataUpdateWorkingDays} working days after its change at the source on {changed:yyyy-MM-dd} as the push stated" : "")}; {ending} (Art. 16).",
                    evidence,
                    spell.Due.AddDays(1))
                { Standing = spell.EndedBy is null });
            }
        }
    }

    private static void Inconsistent(EvaluationSnapshot snapshot, List<ViolationFinding> findings)
    {
        foreach (var dispute in snapshot.Disputes)
        {
            var confirmed = dispute.Status == DisputeStatus.Corrected;
            if (!confirmed && !dispute.IsOverdue(snapshot.Today))
            {
                continue;
            }

            var evidence = new List<LogReference>();
            if (int.TryParse(dispute.DataVersion, NumberStyles.None, CultureInfo.InvariantCulture, out var version)
                && snapshot.VersionExchanges.TryGetValue((dispute.ResourceCode, version), out var exchangeId)
                && snapshot.Digest.FirstPush(exchangeId) is { } push)
            {
                evidence.Add(push.Reference($"push of the disputed data version {version}"));
            }

            // An inconsistency case (issue 23) points to the comparison that found it: that record is evidence too.
            if (dispute.ComparisonId is { } comparisonId
                && snapshot.Digest.FirstComparison(comparisonId) is { } comparison)
            {
                evidence.Add(comparison.Reference("comparison that found the inconsistency"));
            }

            if (!confirmed)
            {
                Unanswered(snapshot, dispute, RequestSubject.Dispute, ViolationKind.DataInconsistent, ViolationRules.DisputeUnanswered,
                    dispute.ComparisonId is null
                        ? $"Dispute {dispute.Id} on {dispute.ResourceCode} (data version {dispute.DataVersion}) was not answered by its due day {dispute.Due:yyyy-MM-dd} (Art. 27)."
                        : $"Inconsistency case {dispute.Id} on {dispute.ResourceCode} (data version {dispute.DataVersion}, found by comparison {dispute.ComparisonId}) was not corrected or answered by its due day {dispute.Due:yyyy-MM-dd} (Art. 27, 42).",
                    evidence, findings);
                continue;
            }

            // The correction is the rectification: recorded (it counts in the report) but not standing.
            findings.Add(new ViolationFinding(
                $"{ViolationRules.DisputeConfirmed}:{dispute.Id}",
                ViolationKind.DataInconsistent,
                ViolationRules.DisputeConfirmed,
                dispute.Provider,
                dispute.ResourceCode,
                $"Dispute {dispute.Id} on {dispute.ResourceCode} (data version {dispute.DataVersion}) was confirmed: the provider corrected the data.",
                [.. LedgerEvidence(snapshot, RequestSubject.Dispute, dispute.Id), .. evidence],
                WorkingDayCalendar.ToChinaDate(dispute.Answer!.At))
            { Standing = false });
        }
    }

    /// <summary>
    /// A case (dispute, complaint, or any later <see cref="IAnswerableCase"/>) still open after its due day: one
    /// violation of the department that must answer, standing until it answers. Keyed <c>&lt;rule&gt;:&lt;case id&gt;</c>.
    /// </summary>
    internal static void Unanswered(EvaluationSnapshot snapshot, IAnswerableCase @case, RequestSubject subject, ViolationKind kind, string rule, string summary,
        IReadOnlyList<LogReference> evidence, List<ViolationFinding> findings)
    {
        if (!@case.IsOverdue(snapshot.Today))
        {
            return;
        }

        findings.Add(new ViolationFinding(
            $"{rule}:{@case.Id}",
            kind,
            rule,
            @case.Respondent,
            @case.CaseResource,
            summary,
            [.. LedgerEvidence(snapshot, subject, @case.Id), .. evidence],
            @case.Due.AddDays(1)));
    }

    /// <summary>
    /// Art. 25: a share request not decided within its 10 working days. It stands while still undecided;
    /// a late decision, or a request withdrawn or expired after its due day, shows it was broken but is no longer open.
    /// </summary>
    private static void RequestsOverdue(EvaluationSnapshot snapshot, List<ViolationFinding> findings)
    {
        foreach (var request in snapshot.Requests)
        {
            var open = request.IsOverdue(snapshot.Today);
            var closedLate = request.Status != ShareRequestStatus.Submitted
                && (request.Decision is { Late: true } || (request.Decision is null && WorkingDayCalendar.ToChinaDate(request.StatusChangedAt) > request.Due));
            if (!open && !closedLate)
            {
                continue;
            }

            findings.Add(new ViolationFinding(
                $"{ViolationRules.RequestOverdue}:{request.Id}",
                ViolationKind.RequestOverdue,
                ViolationRules.RequestOverdue,
                request.Provider,
                request.ResourceCode,
                open
                    ? $"Share request {request.Id} for {request.ResourceCode} has not been answered by its due day {request.Due:yyyy-MM-dd} (Art. 25: 10 working days)."
                    : $"Share request {request.Id} for {request.ResourceCode} was not answered by its due day {request.Due:yyyy-MM-dd} (Art. 25: 10 working days).",
                LedgerEvidence(snapshot, RequestSubject.Request, request.Id),
                request.Due.AddDays(1))
            { Standing = open });
        }
    }

    private static List<LogReference> LedgerEvidence(EvaluationSnapshot snapshot, RequestSubject subject, string id) =>
        [.. snapshot.RequestChanges
            .Where(c => c.Subject == subject && c.SubjectId == id)
            .Select(c => new LogReference(snapshot.Node, "request-changes", c.Sequence, null, c.At, $"{JsonNamingPolicy.CamelCase.ConvertName(subject.ToString())} {c.From ?? "raised"} → {c.To}"))];

    private static void PurposeMismatches(EvaluationSnapshot snapshot, List<ViolationFinding> findings)
    {
        foreach (var refusal in snapshot.Digest.Refusals.Where(r => r.Record.Kind == ExchangeKind.Pull && r.Record.ProblemType is ProblemTypes.PurposeMismatch or ProblemTypes.OnwardSharingNotConsented))
        {
            var onward = refusal.Record.ProblemType == ProblemTypes.OnwardSharingNotConsented;
            var rule = onward ? ViolationRules.OnwardNotConsented : ViolationRules.PurposeMismatch;
            findings.Add(new ViolationFinding(
                $"{rule}:{refusal.Node}:{refusal.Sequence}",
                ViolationKind.PurposeMisuse,
                rule,
                Offender(snapshot, refusal),
                refusal.Record.ResourceCode,
                onward
                    ? $"A pull of {refusal.Record.ResourceCode} for purpose '{refusal.Record.Purpose}' named {refusal.Record.Recipient ?? "a recipient"} to provide it on to, without the provider's consent (Art. 33)."
                    : $"A pull of {refusal.Record.ResourceCode} named purpose '{refusal.Record.Purpose}', which is not the purpose of the user's grant (Art. 32).",
                [refusal.Reference(onward ? "pull refused: onward sharing not consented" : "pull refused: purpose mismatch")],
                WorkingDayCalendar.ToChinaDate(refusal.Record.Time)));
        }
    }

    private void RepeatedNoGrant(EvaluationSnapshot snapshot, List<ViolationFinding> findings)
    {
        var window = TimeSpan.FromDays(options.NoGrantWindowDays);
        var attempts = snapshot.Digest.Refusals
            .Where(r => r.Record.Kind == ExchangeKind.Pull && r.Record.ProblemType is ProblemTypes.NoGrant or ProblemTypes.ItemNotGranted)
            .GroupBy(r => (User: r.Record.EffectiveUser, r.Record.ResourceCode));
        foreach (var group in attempts)
        {
            // Greedy, in log order: a burst starts at an attempt and takes the attempts within the
            // window after it; once it reaches the threshold it is one violation and the next burst
            // starts after it. A longer log never changes an earlier burst, so keys stay stable.
            var list = group.OrderBy(r => r.Sequence).ToList();
            var start = 0;
            while (start < list.Count)
            {
                var end = start;
                while (end + 1 < list.Count && list[end + 1].Record.Time - list[start].Record.Time <= window)
                {
                    end++;
                }

                var count = end - start + 1;
                if (count >= options.NoGrantAttempts)
                {
                    var burst = list.GetRange(start, count);
                    findings.Add(new ViolationFinding(
                        $"{ViolationRules.RepeatedNoGrant}:{burst[0].Node}:{burst[0].Sequence}",
                        ViolationKind.PurposeMisuse,
                        ViolationRules.RepeatedNoGrant,
                        Offender(snapshot, burst[0]),
                        group.Key.ResourceCode,
                        $"{count} pulls of {group.Key.ResourceCode} without a grant for the items asked within {options.NoGrantWindowDays} days ({WorkingDayCalendar.ToChinaDate(burst[0].Record.Time):yyyy-MM-dd} to {WorkingDayCalendar.ToChinaDate(burst[^1].Record.Time):yyyy-MM-dd}).",
                        [.. burst.Select(r => r.Reference($"pull refused: {r.Record.ProblemType![ProblemTypes.Prefix.Length..]}"))],
                        WorkingDayCalendar.ToChinaDate(burst[^1].Record.Time)));
                    start = end + 1;
                }
                else
                {
                    start++;
                }
            }
        }
    }

    private static DepartmentRef Offender(EvaluationSnapshot snapshot, LoggedRecord record)
    {
        var user = record.Record.EffectiveUser;
        var identity = CallerIdentity.TryParse(user);
        var code = identity?.CreditCode ?? user;
        return snapshot.Departments.FirstOrDefault(d => d.CreditCode == code)?.Ref
            ?? new DepartmentRef(identity?.DivisionCode ?? "", code);
    }
}
