using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Kernel;

namespace GovShare.Node.Identity;

/// <summary>
/// The certificates a node trusts and presents, loaded once at start from the settings:
/// the root CAs (the only trust anchors: never the system store), the intermediate CAs used
/// to complete client chains, and the node's own certificate with its key and chain.
/// </summary>
public sealed class TrustMaterial
{
    private TrustMaterial(X509Certificate2Collection roots, X509Certificate2Collection intermediates, X509Certificate2 nodeCertificate, X509Certificate2Collection nodeChain, AuthorityScope scope, X509Certificate2? parentAnchor)
    {
        Scope = scope;
        ParentAnchor = parentAnchor;
        Roots = roots;
        Intermediates = intermediates;
        NodeCertificate = nodeCertificate;
        NodeChain = nodeChain;
    }

    /// <summary>Every trust anchor: <c>Node:TrustAnchors</c>, and the parent's own anchor when one is configured (<see cref="ParentAnchor"/>).</summary>
    public X509Certificate2Collection Roots { get; }
    public X509Certificate2Collection Intermediates { get; }

    /// <summary>
    /// The root of a parent outside this node's PKI (the national node, Art. 21), from
    /// <c>Upstream:ParentTrustAnchor</c>; it speaks for that one node identity and nothing else
    /// (<see cref="AuthorityScope"/>). Null when the parent is of this node's own PKI.
    /// </summary>
    public X509Certificate2? ParentAnchor { get; }

    /// <summary>What each of those CAs may speak for.</summary>
    public AuthorityScope Scope { get; }

    /// <summary>This node's certificate, with its private key: the TLS server certificate and the client certificate to other nodes.</summary>
    public X509Certificate2 NodeCertificate { get; }

    /// <summary>The CA certificates sent with <see cref="NodeCertificate"/>.</summary>
    public X509Certificate2Collection NodeChain { get; }

    /// <summary>Every CA certificate known to the node: roots and intermediates.</summary>
    public IEnumerable<X509Certificate2> Authorities => Roots.Concat(Intermediates);

    /// <summary>Loads everything, collecting every problem as "setting: reason" so one start names them all.</summary>
    /// <param name="options">The node's settings.</param>
    /// <param name="errors">Where every problem is added.</param>
    /// <param name="parent">The parent's own trust anchor, when the parent is outside this node's PKI (<c>Upstream:ParentTrustAnchor</c>).</param>
    public static TrustMaterial Load(NodeOptions options, List<string> errors, ParentTrustAnchor? parent = null)
    {
        var roots = LoadBundle(options.TrustAnchors, $"{NodeOptions.Section}:{nameof(NodeOptions.TrustAnchors)}", required: true, errors);
        foreach (var root in roots)
        {
            if (root.SubjectName.RawData.AsSpan().SequenceEqual(root.IssuerName.RawData) is false)
            {
                errors.Add($"{NodeOptions.Section}:{nameof(NodeOptions.TrustAnchors)}: '{root.Subject}' is not a self-signed root CA.");
            }

            // The national CA speaks for every division: among a province's anchors it could issue any
            // of the province's identities. Below the nation it is trusted only as the parent's anchor.
            if (AuthorityScope.DivisionOf(root) is { } division && DivisionCode.IsNational(division) && !DivisionCode.IsNational(options.DivisionCode))
            {
                errors.Add($"{NodeOptions.Section}:{nameof(NodeOptions.TrustAnchors)}: '{root.Subject}' is the national CA ({AuthorityScope.CaUri(division)}), which would speak for every identity of this node's jurisdiction; give it as Upstream:ParentTrustAnchor instead, where it vouches only for the national node.");
            }
        }

        var intermediates = LoadBundle(options.Intermediates, $"{NodeOptions.Section}:{nameof(NodeOptions.Intermediates)}", required: false, errors);
        var nodeIssuersSetting = $"{NodeOptions.Section}:{nameof(NodeOptions.NodeIssuers)}";
        var nodeIssuers = string.IsNullOrWhiteSpace(options.NodeIssuers) ? roots : LoadBundle(options.NodeIssuers, nodeIssuersSetting, required: true, errors);
        var parentAnchor = parent is null ? null : LoadParentAnchor(parent, options.DivisionCode, roots, errors);
        var scope = AuthorityScope.Build(roots, intermediates, nodeIssuers, nodeIssuersSetting, errors, parentAnchor is null ? null : (parentAnchor, parent!.DivisionCode!));
        var anchors = new X509Certificate2Collection(roots);
        if (parentAnchor is not null)
        {
            anchors.Add(parentAnchor);
        }

        X509Certificate2? node = null;
        var chain = new X509Certificate2Collection();
        var certSetting = $"{NodeOptions.Section}:{nameof(NodeOptions.Certificate)}";
        var keySetting = $"{NodeOptions.Section}:{nameof(NodeOptions.Key)}";
        if (string.IsNullOrWhiteSpace(options.Certificate))
        {
            errors.Add($"{certSetting}: missing; set it to the node's PEM certificate.");
        }
        else if (string.IsNullOrWhiteSpace(options.Key))
        {
            errors.Add($"{keySetting}: missing; set it to the node's PEM private key.");
        }
        else
        {
            try
            {
                var all = new X509Certificate2Collection();
                all.ImportFromPemFile(options.Certificate);
                if (all.Count == 0)
                {
                    errors.Add($"{certSetting}: '{options.Certificate}' holds no certificate.");
                }
                else
                {
                    try
                    {
                        using var leaf = X509Certificate2.CreateFromPemFile(options.Certificate, options.Key);
                        // Kestrel on Linux wants an exportable key in a PKCS#12 round trip for the server certificate.
                        node = X509CertificateLoader.LoadPkcs12(leaf.Export(X509ContentType.Pkcs12), null);
                        for (var i = 1; i < all.Count; i++)
                        {
                            chain.Add(all[i]);
                        }

                        if (CallerIdentity.TryParse(UriOf(node)) is not { Kind: CallerKind.Node } identity)
                        {
                            errors.Add($"{certSetting}: '{options.Certificate}' is not a node certificate (its SAN URI must be govshare:node/<division>).");
                        }
                        else if (identity.DivisionCode != options.DivisionCode)
                        {
                            errors.Add($"{certSetting}: '{options.Certificate}' is for node {identity.DivisionCode}, but {NodeOptions.Section}:{nameof(NodeOptions.DivisionCode)} is {options.DivisionCode}.");
                        }
                    }
                    catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
                    {
                        errors.Add($"{keySetting}: cannot read the private key '{options.Key}' for '{options.Certificate}': {ex.Message}");
                    }
                }
            }
            catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
            {
                errors.Add($"{certSetting}: cannot read '{options.Certificate}': {ex.Message}");
            }
        }

        if (node is not null && errors.Count == 0 && !scope.IssuesNodes(node, roots, intermediates))
        {
            errors.Add($"{certSetting}: '{options.Certificate}' was issued by '{node.Issuer}', which may not issue node certificates (only the root, or a CA in {NodeOptions.Section}:{nameof(NodeOptions.NodeIssuers)}): every other node would refuse it. Re-issue it with 'govshare certs node'.");
        }

        return new TrustMaterial(anchors, intermediates, node!, chain, scope, parentAnchor);
    }

    private static X509Certificate2? LoadParentAnchor(ParentTrustAnchor parent, string self, X509Certificate2Collection roots, List<string> errors)
    {
        var bundle = LoadBundle(parent.Path, parent.Setting, required: true, errors);
        if (bundle.Count == 0)
        {
            return null;
        }

        var anchor = bundle[0];
        var problems = new List<string>();
        if (bundle.Count > 1)
        {
            problems.Add("holds more than one certificate; give only the parent's root CA");
        }

        if (!anchor.SubjectName.RawData.AsSpan().SequenceEqual(anchor.IssuerName.RawData))
        {
            problems.Add($"'{anchor.Subject}' is not a self-signed root CA");
        }

        if (parent.DivisionCode is not { } parentDivision || !DivisionCode.IsWithin(self, parentDivision) || parentDivision == self)
        {
            problems.Add($"it needs Upstream:ParentDivisionCode naming a division above this node's {self} (e.g. {DivisionCode.National}), the one node it may vouch for");
        }
        else if (AuthorityScope.DivisionOf(anchor) is not { } division || !DivisionCode.IsWithin(parentDivision, division))
        {
            problems.Add($"'{anchor.Subject}' names no division holding {parentDivision} (SAN URI govshare:ca/<division>, e.g. govshare:ca/{DivisionCode.National})");
        }

        if (roots.Any(r => r.RawData.AsSpan().SequenceEqual(anchor.RawData)))
        {
            problems.Add($"'{anchor.Subject}' is also in {NodeOptions.Section}:{nameof(NodeOptions.TrustAnchors)}, where it would speak for more than the parent node");
        }

        foreach (var problem in problems)
        {
            errors.Add($"{parent.Setting}: '{parent.Path}' {problem}.");
        }

        return problems.Count == 0 ? anchor : null;
    }

    /// <summary>The SHA-256 of a certificate's public key (its SubjectPublicKeyInfo), lower-case hex: what a link pins.</summary>
    public static string SpkiSha256(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Convert.ToHexStringLower(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));
    }

    /// <summary>The GovShare SAN URI of a certificate, if it has exactly one.</summary>
    public static string? UriOf(X509Certificate2 certificate)
    {
        var san = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (san is null)
        {
            return null;
        }

        string? found = null;
        foreach (var uri in EnumerateUris(san))
        {
            if (uri.StartsWith(CallerIdentity.Scheme + ":", StringComparison.Ordinal))
            {
                if (found is not null)
                {
                    return null; // Two identities in one certificate is ambiguous: refuse both.
                }

                found = uri;
            }
        }

        return found;
    }

    private static List<string> EnumerateUris(X509SubjectAlternativeNameExtension san)
    {
        // .NET exposes DNS names and IPs but not URIs: read the GeneralNames ourselves.
        var reader = new System.Formats.Asn1.AsnReader(san.RawData, System.Formats.Asn1.AsnEncodingRules.DER);
        var sequence = reader.ReadSequence();
        var uriTag = new System.Formats.Asn1.Asn1Tag(System.Formats.Asn1.TagClass.ContextSpecific, 6);
        var uris = new List<string>();
        while (sequence.HasData)
        {
            var tag = sequence.PeekTag();
            if (tag.HasSameClassAndValue(uriTag))
            {
                uris.Add(sequence.ReadCharacterString(System.Formats.Asn1.UniversalTagNumber.IA5String, uriTag));
            }
            else
            {
                sequence.ReadEncodedValue();
            }
        }

        return uris;
    }

    private static X509Certificate2Collection LoadBundle(string? path, string setting, bool required, List<string> errors)
    {
        var bundle = new X509Certificate2Collection();
        if (string.IsNullOrWhiteSpace(path))
        {
            if (required)
            {
                errors.Add($"{setting}: missing; set it to a PEM file of CA certificates.");
            }

            return bundle;
        }

        try
        {
            bundle.ImportFromPemFile(path);
            if (bundle.Count == 0 && required)
            {
                errors.Add($"{setting}: '{path}' holds no certificate.");
            }
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            errors.Add($"{setting}: cannot read '{path}': {ex.Message}");
        }

        return bundle;
    }
}

/// <summary>
/// A parent's own root CA, for a parent outside this node's PKI (the national node): the PEM file and the
/// setting it came from (named in errors), and the one node it may vouch for (<c>govshare:node/&lt;division&gt;</c>).
/// </summary>
public sealed record ParentTrustAnchor(string? Path, string? DivisionCode, string Setting);
