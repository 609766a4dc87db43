using System.Net;
using GovShare.Node.Identity;

namespace GovShare.Node.Pki;

/// <summary>What goes into a leaf certificate. Use the factories: they fix the EKUs per kind.</summary>
public sealed record LeafProfile(
    string Subject,
    string IdentityUri,
    IReadOnlyList<string> ExtendedKeyUsages,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    IReadOnlyList<string> DnsNames,
    IReadOnlyList<IPAddress> IpAddresses)
{
    /// <summary>The subject exactly as encoded in a certificate being renewed (wins over <see cref="Subject"/>), so the renewal names the same subject byte for byte.</summary>
    public System.Security.Cryptography.X509Certificates.X500DistinguishedName? EncodedSubject { get; init; }

    public const string ClientAuth = "1.3.6.1.5.5.7.3.2";
    public const string ServerAuth = "1.3.6.1.5.5.7.3.1";

    /// <summary>A department's client certificate: clientAuth only.</summary>
    public static LeafProfile Department(string divisionCode, string creditCode, string name, DateTimeOffset notBefore, DateTimeOffset notAfter) =>
        new(
            $"CN={Escape(name)}, serialNumber={creditCode}, OU={divisionCode}, O=GovShare, C=CN",
            CallerIdentity.Department(divisionCode, creditCode).Uri,
            [ClientAuth],
            notBefore,
            notAfter,
            [],
            []);

    /// <summary>A node certificate: it serves departments (serverAuth) and calls other nodes (clientAuth).</summary>
    public static LeafProfile ForNode(string divisionCode, DateTimeOffset notBefore, DateTimeOffset notAfter, IReadOnlyList<string> dnsNames, IReadOnlyList<IPAddress> ipAddresses) =>
        new(
            $"CN=GovShare node {divisionCode}, OU={divisionCode}, O=GovShare, C=CN",
            CallerIdentity.ForNode(divisionCode).Uri,
            [ServerAuth, ClientAuth],
            notBefore,
            notAfter,
            dnsNames,
            ipAddresses);

    /// <summary>An operator's client certificate (a person of the node's operating unit): clientAuth only.</summary>
    public static LeafProfile Operator(string divisionCode, string operatorId, string name, DateTimeOffset notBefore, DateTimeOffset notAfter) =>
        new(
            $"CN={Escape($"{name} ({operatorId})")}, OU={divisionCode}, O=GovShare, C=CN",
            CallerIdentity.Operator(divisionCode, operatorId).Uri,
            [ClientAuth],
            notBefore,
            notAfter,
            [],
            []);

    private static string Escape(string value) =>
        value.Contains(',', StringComparison.Ordinal) || value.Contains('"', StringComparison.Ordinal) || value.Contains('=', StringComparison.Ordinal)
            ? "\"" + value.Replace("\"", "\\\"", StringComparison.Ordinal) + "\""
            : value;
}
