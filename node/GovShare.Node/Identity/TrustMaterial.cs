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
    private TrustMaterial(X509Certificate2Collection roots, X509Certificate2Collection intermediates, X509Certificate2 nodeCertificate, X509Certificate2Collection nodeChain, AuthorityScope scope)
    {
        Scope = scope;
        Roots = roots;
        Intermediates = intermediates;
        NodeCertificate = nodeCertificate;
        NodeChain = nodeChain;
    }

    public X509Certificate2Collection Roots { get; }
    public X509Certificate2Collection Intermediates { get; }

    /// <summary>What each of those CAs may speak for.</summary>
    public AuthorityScope Scope { get; }

    /// <summary>This node's certificate, with its private key: the TLS server certificate and the client certificate to other nodes.</summary>
    public X509Certificate2 NodeCertificate { get; }

    /// <summary>The CA certificates sent with <see cref="NodeCertificate"/>.</summary>
    public X509Certificate2Collection NodeChain { get; }

    /// <summary>Every CA certificate known to the node: roots and intermediates.</summary>
    public IEnumerable<X509Certificate2> Authorities => Roots.Concat(Intermediates);

    /// <summary>Loads everything, collecting every problem as "setting: reason" so one start names them all.</summary>
    public static TrustMaterial Load(NodeOptions options, List<string> errors)
    {
        var roots = LoadBundle(options.TrustAnchors, $"{NodeOptions.Section}:{nameof(NodeOptions.TrustAnchors)}", required: true, errors);
        foreach (var root in roots)
        {
            if (root.SubjectName.RawData.AsSpan().SequenceEqual(root.IssuerName.RawData) is false)
            {
                errors.Add($"{NodeOptions.Section}:{nameof(NodeOptions.TrustAnchors)}: '{root.Subject}' is not a self-signed root CA.");
            }
        }

        var intermediates = LoadBundle(options.Intermediates, $"{NodeOptions.Section}:{nameof(NodeOptions.Intermediates)}", required: false, errors);
        var nodeIssuersSetting = $"{NodeOptions.Section}:{nameof(NodeOptions.NodeIssuers)}";
        var nodeIssuers = string.IsNullOrWhiteSpace(options.NodeIssuers) ? roots : LoadBundle(options.NodeIssuers, nodeIssuersSetting, required: true, errors);
        var scope = AuthorityScope.Build(roots, intermediates, nodeIssuers, nodeIssuersSetting, errors);
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

        return new TrustMaterial(roots, intermediates, node!, chain, scope);
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
