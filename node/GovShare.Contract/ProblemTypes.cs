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

    // Hierarchy.
    public const string HopHeaderRefused = Prefix + "hop-header-refused";
    public const string VouchRefused = Prefix + "vouch-refused";
    public const string NodeNotLinked = Prefix + "node-not-linked";
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
    public const string NoGrant = Prefix + "no-grant";
    public const string NotShared = Prefix + "not-shared";
    public const string UnknownItem = Prefix + "unknown-item";
    public const string ItemNotGranted = Prefix + "item-not-granted";
    public const string NotProvider = Prefix + "not-provider";
    public const string NoData = Prefix + "no-data";
    public const string ResultTooLargeForText = Prefix + "result-too-large-for-text";
    public const string NodeBusy = Prefix + "node-busy";
    public const string LogUnavailable = Prefix + "log-unavailable";

    /// <summary>507: the node's disk is (nearly) full; the push was not published. Retry later.</summary>
    public const string InsufficientStorage = Prefix + "insufficient-storage";

    // Evaluation.

    /// <summary>A violation's status does not take the asked change (rectified is final; a status is not set twice).</summary>
    public const string ViolationTransitionRefused = Prefix + "violation-transition-refused";
}
