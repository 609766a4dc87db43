using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using GovShare.Contract;
using GovShare.Node.Kernel;

namespace GovShare.Node.Identity;

/// <summary>
/// What each CA the node knows may speak for. A CA names its own division in its certificate
/// (SAN URI <c>govshare:ca/&lt;division&gt;</c>, written by <c>govshare certs</c>); a certificate it
/// issues is believed only for identities inside that division, and node certificates only from
/// the CAs named for nodes (the roots, unless <c>Node:NodeIssuers</c> names others). The scope
/// comes from the CA certificate, which the node holds from its own settings: never from the leaf,
/// which is exactly what an overreaching CA controls. A parent's own anchor (the national node's
/// root, <c>Upstream:ParentTrustAnchor</c>) is narrower still: it speaks for the one identity
/// <c>govshare:node/&lt;parent&gt;</c>, never for a department, an operator or another node, though
/// its own division (<c>000000</c>) holds them all.
/// </summary>
public sealed class AuthorityScope
{
    private const string CaPrefix = CallerIdentity.Scheme + ":ca/";

    // Keyed by the SHA-256 of the CA certificate: subjects can repeat across PKIs, bytes cannot.
    private readonly Dictionary<string, string> _divisions;
    private readonly HashSet<string> _nodeIssuers;
    private readonly HashSet<string> _roots;

    // The parent's own anchor (by certificate hash) and the one node it may speak for.
    private readonly (string Key, string Node)? _parentAnchor;

    private AuthorityScope(Dictionary<string, string> divisions, HashSet<string> nodeIssuers, HashSet<string> roots, (string Key, string Node)? parentAnchor)
    {
        _divisions = divisions;
        _nodeIssuers = nodeIssuers;
        _roots = roots;
        _parentAnchor = parentAnchor;
    }

    /// <summary>The SAN URI naming a CA's division, e.g. <c>govshare:ca/530300</c>.</summary>
    public static string CaUri(string divisionCode) => CaPrefix + divisionCode;

    /// <summary>The division a CA certificate names for itself, or null when it names none.</summary>
    public static string? DivisionOf(X509Certificate2 ca)
    {
        var uri = TrustMaterial.UriOf(ca);
        return uri is not null && uri.StartsWith(CaPrefix, StringComparison.Ordinal) && DivisionCode.IsValid(uri[CaPrefix.Length..])
            ? uri[CaPrefix.Length..]
            : null;
    }

    /// <summary>
    /// Reads every CA's division; a CA that names none is a setting error (the node would
    /// otherwise have to guess what it may speak for).
    /// </summary>
    internal static AuthorityScope Build(X509Certificate2Collection roots, X509Certificate2Collection intermediates, X509Certificate2Collection nodeIssuers, string nodeIssuersSetting, List<string> errors, (X509Certificate2 Ca, string Node)? parentAnchor = null)
    {
        var divisions = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (bundle, setting) in new[] { (roots, nameof(NodeOptions.TrustAnchors)), (intermediates, nameof(NodeOptions.Intermediates)) })
        {
            foreach (var ca in bundle)
            {
                if (DivisionOf(ca) is { } division)
                {
                    divisions[Key(ca)] = division;
                }
                else
                {
                    errors.Add($"{NodeOptions.Section}:{setting}: the CA '{ca.Subject}' names no division (SAN URI govshare:ca/<division>): a CA speaks only for its own division; re-create it with 'govshare certs'.");
                }
            }
        }

        var issuers = new HashSet<string>(StringComparer.Ordinal);
        foreach (var ca in nodeIssuers)
        {
            if (!divisions.ContainsKey(Key(ca)))
            {
                errors.Add($"{nodeIssuersSetting}: '{ca.Subject}' is not one of the node's trust anchors or intermediates.");
            }

            issuers.Add(Key(ca));
        }

        var rootKeys = roots.Select(Key).ToHashSet(StringComparer.Ordinal);
        (string, string)? parent = null;
        if (parentAnchor is { } anchor && DivisionOf(anchor.Ca) is { } anchorDivision)
        {
            divisions[Key(anchor.Ca)] = anchorDivision;
            issuers.Add(Key(anchor.Ca));
            rootKeys.Add(Key(anchor.Ca));
            parent = (Key(anchor.Ca), anchor.Node);
        }

        return new AuthorityScope(divisions, issuers, rootKeys, parent);
    }

    /// <summary>
    /// Why <paramref name="issuer"/> may not speak for <paramref name="identity"/>, or null when it
    /// may. <paramref name="issuersIssuer"/> is the CA above an intermediate: an intermediate is
    /// believed only within the division of the root that made it.
    /// </summary>
    public CertificateRefusedException? Refusal(CallerIdentity identity, X509Certificate2? issuer, X509Certificate2? issuersIssuer)
    {
        ArgumentNullException.ThrowIfNull(identity);
        if (issuer is null || !_divisions.TryGetValue(Key(issuer), out var scope))
        {
            return OutOfScope($"Rule: a certificate speaks only through a CA this node knows; the issuer of {identity.Uri} is not one of its anchors or intermediates.");
        }

        if (_parentAnchor is { } parent && parent.Key == Key(issuer))
        {
            return identity.Kind == CallerKind.Node && identity.DivisionCode == parent.Node
                ? null
                : OutOfScope($"Rule: the parent's own CA '{issuer.Subject}' (Upstream:ParentTrustAnchor) vouches only for govshare:node/{parent.Node}, never for {identity.Uri}.");
        }

        if (!_roots.Contains(Key(issuer)))
        {
            // An intermediate under the parent's anchor would speak for its division through it: never.
            if (_parentAnchor is { } parentAbove && issuersIssuer is not null && parentAbove.Key == Key(issuersIssuer))
            {
                return OutOfScope($"Rule: the parent's own CA (Upstream:ParentTrustAnchor) vouches only for govshare:node/{parentAbove.Node}; the CA '{issuer.Subject}' it made speaks for nothing here.");
            }

            if (issuersIssuer is null || !_divisions.TryGetValue(Key(issuersIssuer), out var above) || !DivisionCode.IsWithin(scope, above))
            {
                return OutOfScope($"Rule: a CA speaks only for its own division; the CA '{issuer.Subject}' ({CaUri(scope)}) lies outside the division of the CA that made it.");
            }
        }

        if (identity.Kind == CallerKind.Node && !_nodeIssuers.Contains(Key(issuer)))
        {
            return OutOfScope($"Rule: node certificates come only from the root CA (or a CA named in {NodeOptions.Section}:{nameof(NodeOptions.NodeIssuers)}); {identity.Uri} was issued by '{issuer.Subject}' ({CaUri(scope)}), which may not issue node certificates.");
        }

        if (!DivisionCode.IsWithin(identity.DivisionCode, scope))
        {
            return OutOfScope($"Rule: a CA speaks only for its own division; '{issuer.Subject}' ({CaUri(scope)}) issued {identity.Uri}, which lies outside {scope}.");
        }

        return null;
    }

    /// <summary>
    /// True when <paramref name="nodeCertificate"/> chains, through the node's anchors and
    /// intermediates, to an issuer that may issue node certificates: checked at start for the node's
    /// own certificate, which every peer would otherwise refuse.
    /// </summary>
    internal bool IssuesNodes(X509Certificate2 nodeCertificate, X509Certificate2Collection roots, X509Certificate2Collection intermediates)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.ExtraStore.AddRange(intermediates);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.IgnoreNotTimeValid;
        return chain.Build(nodeCertificate) && chain.ChainElements.Count > 1 && _nodeIssuers.Contains(Key(chain.ChainElements[1].Certificate));
    }

    private static CertificateRefusedException OutOfScope(string detail) =>
        new(ProblemTypes.IssuerOutOfScope, "The issuing CA may not speak for this identity", detail);

    private static string Key(X509Certificate2 certificate) => certificate.GetCertHashString(HashAlgorithmName.SHA256);
}
