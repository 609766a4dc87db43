namespace GovShare.Node.Hierarchy;

/// <summary>
/// The parent link from settings (section <c>Upstream</c>), for nodes deployed from
/// configuration; <c>govshare node link parent</c> makes the same link at run time.
/// </summary>
public sealed class UpstreamOptions
{
    public const string Section = "Upstream";

    /// <summary>The parent node's exchange address, e.g. https://govshare.yn.gov.cn:8443.</summary>
    public string? ParentUrl { get; set; }

    /// <summary>The parent's division code, e.g. 530000.</summary>
    public string? ParentDivisionCode { get; set; }

    /// <summary>
    /// The SHA-256 (hex) of the parent node's key (SubjectPublicKeyInfo), which the link pins:
    /// <c>govshare certs node</c> prints it when it issues the parent's certificate.
    /// </summary>
    public string? ParentKeySha256 { get; set; }

    /// <summary>
    /// For a parent outside this node's PKI — the national node above a province (Art. 21) — the PEM
    /// file of that parent's own root CA. It is trusted for the one identity
    /// <c>govshare:node/&lt;ParentDivisionCode&gt;</c> and nothing else (Identity/AuthorityScope), so the
    /// national CA can never speak for a department, operator or node of the province. Read at start
    /// only: no operator call adds a trust anchor. Its CRL goes in <c>Node:CrlPath</c> like the others.
    /// </summary>
    public string? ParentTrustAnchor { get; set; }
}
