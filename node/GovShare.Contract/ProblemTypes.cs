namespace GovShare.Contract;

/// <summary>
/// The stable <c>type</c> URIs of every problem+json the node returns (RFC 9457).
/// Clients switch on these; never rename one.
/// </summary>
public static class ProblemTypes
{
    public const string Prefix = "urn:govshare:problem:";

    // Identity (certificate and registration).
    public const string CertificateRequired = Prefix + "certificate-required";
    public const string CertificateInvalid = Prefix + "certificate-invalid";
    public const string CertificateRevoked = Prefix + "certificate-revoked";
    public const string RevocationUnknown = Prefix + "revocation-unknown";
    public const string IdentityUnrecognised = Prefix + "identity-unrecognised";
    public const string DepartmentNotRegistered = Prefix + "department-not-registered";
    public const string Forbidden = Prefix + "forbidden";
    public const string OperatorTokenInvalid = Prefix + "operator-token-invalid";

    /// <summary>The certificate's identity lies outside what its issuing CA may speak for (a CA's division; node certificates only from the root).</summary>
    public const string IssuerOutOfScope = Prefix + "issuer-out-of-scope";

    /// <summary>A valid certificate presented on the wrong listener: operators manage, departments and nodes exchange.</summary>
    public const string WrongListener = Prefix + "wrong-listener";

    // Hierarchy.
    public const string HopHeaderRefused = Prefix + "hop-header-refused";
    public const string VouchRefused = Prefix + "vouch-refused";
    public const string NodeNotLinked = Prefix + "node-not-linked";

    /// <summary>A linked node called with a key other than the one pinned when it was linked (or last re-keyed).</summary>
    public const string NodeKeyNotPinned = Prefix + "node-key-not-pinned";
    public const string UpstreamUnavailable = Prefix + "upstream-unavailable";
    public const string UpstreamTimeout = Prefix + "upstream-timeout";
    public const string HopLimit = Prefix + "hop-limit";
    public const string AmbiguousResource = Prefix + "ambiguous-resource";

    // Generic request errors.
    public const string ValidationFailed = Prefix + "validation-failed";
    public const string MalformedRequest = Prefix + "malformed-request";
    public const string PayloadTooLarge = Prefix + "payload-too-large";
    public const string UnsupportedMediaType = Prefix + "unsupported-media-type";
    public const string NotFound = Prefix + "not-found";
    public const string MethodNotAllowed = Prefix + "method-not-allowed";
    public const string Conflict = Prefix + "conflict";
    public const string PreconditionFailed = Prefix + "precondition-failed";
    public const string PreconditionRequired = Prefix + "precondition-required";
    public const string Internal = Prefix + "internal-error";

    // Catalog.
    public const string CatalogCodeTaken = Prefix + "catalog-code-taken";
    public const string CatalogEntryRetired = Prefix + "catalog-entry-retired";

    // Requests, grants, disputes.

    /// <summary>The resource is shared unconditionally: pull it, no request needed.</summary>
    public const string RequestNotNeeded = Prefix + "request-not-needed";

    /// <summary>The resource is not shared (the problem's detail carries the catalog's reason).</summary>
    public const string ResourceNotShared = Prefix + "resource-not-shared";

    /// <summary>A department applied for, or disputed, its own resource.</summary>
    public const string OwnResource = Prefix + "own-resource";

    // Exchange.
    public const string InvalidArrowStream = Prefix + "invalid-arrow-stream";
    public const string SchemaMismatch = Prefix + "schema-mismatch";
    public const string PurposeRequired = Prefix + "purpose-required";
    public const string PurposeMismatch = Prefix + "purpose-mismatch";

    /// <summary>A pull names a recipient it will provide the data on to, without the provider's consent for that purpose and recipient (Art. 33).</summary>
    public const string OnwardSharingNotConsented = Prefix + "onward-sharing-not-consented";
    public const string NoGrant = Prefix + "no-grant";
    public const string NotShared = Prefix + "not-shared";

    /// <summary>
    /// A department outside the resource's province (a national department, through the national link)
    /// asked for a resource its provider has not exposed nationally (catalog <c>scope</c> is not <c>national</c>; Art. 21).
    /// </summary>
    public const string NotSharedNationally = Prefix + "not-shared-nationally";

    /// <summary>The resource has no recorded secrecy review (保密审查, Art. 34), so it is not shared yet.</summary>
    public const string SecrecyReviewMissing = Prefix + "secrecy-review-missing";
    public const string UnknownItem = Prefix + "unknown-item";
    public const string ItemNotGranted = Prefix + "item-not-granted";
    public const string NotProvider = Prefix + "not-provider";
    public const string NoData = Prefix + "no-data";
    public const string ResultTooLargeForText = Prefix + "result-too-large-for-text";
    public const string NodeBusy = Prefix + "node-busy";

    /// <summary>The department already has its share of the node's push slots in progress (429, Retry-After).</summary>
    public const string PushShareExceeded = Prefix + "push-share-exceeded";

    /// <summary>The request body arrived slower than the node's minimum data rate and was cut (408).</summary>
    public const string RequestBodyTooSlow = Prefix + "request-body-too-slow";
    public const string LogUnavailable = Prefix + "log-unavailable";

    /// <summary>
    /// 503 with Retry-After: the statistics or evaluation figures are still being brought up to date
    /// from the logs after the start (the first start after an upgrade, or a lost saved aggregate,
    /// folds the whole log: minutes at 10 million records). Nothing is wrong; ask again later.
    /// </summary>
    public const string AggregatesRebuilding = Prefix + "aggregates-rebuilding";

    /// <summary>A pushed value breaks its item's rule (required, length, date, timestamp or decimal range); the <c>errors</c> extension names item, batch, row and rule.</summary>
    public const string InvalidValue = Prefix + "invalid-value";

    /// <summary>
    /// A push whose keys are not one per row (400): a merge with a null key item or one key twice; a
    /// replace or append to a resource with key items naming one key twice, or an append naming a key
    /// already stored. The <c>errors</c> extension names item, batch, row and rule (<c>key-null</c>,
    /// <c>key-duplicate</c>), each message the first row with that key. The name is the merge's, which came first.
    /// </summary>
    public const string InvalidMergeKey = Prefix + "invalid-merge-key";

    /// <summary>A merge push to a resource whose catalog entry names no key item (409): merge needs keys to match rows.</summary>
    public const string NoKeyItems = Prefix + "no-key-items";

    /// <summary>Another push published a version while a merge, or an append to a resource with key items, was being made on the one before (409); nothing was published, push again.</summary>
    public const string MergeConflict = Prefix + "merge-conflict";

    /// <summary>A comparison's submission with a null key item or one key twice (400); <c>code</c> is <c>key-null</c>, <c>key-duplicate</c> or <c>key-too-long</c>.</summary>
    public const string InvalidCompareKey = Prefix + "invalid-compare-key";

    /// <summary>A comparison touching items the caller sees only masked, over fewer rows than the node's minimum (422): it would answer for single rows.</summary>
    public const string CompareTooSmall = Prefix + "compare-too-small";

    /// <summary>The department made as many comparisons of the resource as the node allows in an hour (429, Retry-After): comparisons must not enumerate values.</summary>
    public const string CompareRateExceeded = Prefix + "compare-rate-exceeded";

    /// <summary>A masking rule does not fit the type of the item it masks (e.g. a range bucket on text).</summary>
    public const string MaskingRuleMismatch = Prefix + "masking-rule-mismatch";

    /// <summary>A stored version could not be read back; in the exchange log, why a pull ended early.</summary>
    public const string DatasetUnreadable = Prefix + "dataset-unreadable";
    /// <summary>507: the node's disk is (nearly) full; the push was not published. Retry later.</summary>
    public const string InsufficientStorage = Prefix + "insufficient-storage";

    /// <summary>409: the node cannot back itself up (its state is PostgreSQL's: use pg_dump, deploy/README.md).</summary>
    public const string BackupNotSupported = Prefix + "backup-not-supported";

    // Evaluation.

    /// <summary>A violation's status does not take the asked change (rectified is final; a status is not set twice).</summary>
    public const string ViolationTransitionRefused = Prefix + "violation-transition-refused";

    // Signed submissions up the tree: a child's annual report (Art. 40) and its catalog publication (Art. 12) at its parent.
    // The names keep 'report' (the first document on the channel); they mean any signed submission.

    /// <summary>400: the submitted report is not the one the address takes: another kind, node or year than signed or sent for.</summary>
    public const string ReportMismatch = Prefix + "report-mismatch";

    /// <summary>403: the report is not signed by the linked child: another node's certificate, not the key the link pins, or not from this trust.</summary>
    public const string ReportSignerRefused = Prefix + "report-signer-refused";

    /// <summary>400: the report's signature does not verify over what arrived: it was changed after signing.</summary>
    public const string ReportSignatureInvalid = Prefix + "report-signature-invalid";
}
