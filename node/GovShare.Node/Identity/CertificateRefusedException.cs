using System.Security.Cryptography.X509Certificates;
using GovShare.Contract;

namespace GovShare.Node.Identity;

/// <summary>Why a client certificate was refused, with the problem type the caller gets.</summary>
public sealed class CertificateRefusedException(string problemType, string title, string detail) : Exception(detail)
{
    public string ProblemType { get; } = problemType;
    public string Title { get; } = title;

    public static CertificateRefusedException Revoked(string detail) =>
        new(ProblemTypes.CertificateRevoked, "The client certificate is revoked", detail);

    public static CertificateRefusedException RevocationUnknown(string detail) =>
        new(ProblemTypes.RevocationUnknown, "The client certificate's revocation status cannot be established", detail);

    public static CertificateRefusedException Unrecognised(string detail) =>
        new(ProblemTypes.IdentityUnrecognised, "The client certificate names no GovShare identity", detail);

    /// <summary>
    /// Explains a certificate the authentication handler refused. The handler says only
    /// "failed validation"; a department's operator needs to know whether to renew, wait or
    /// ask for a certificate from the right CA, so the chain is built once more, on this
    /// failure path only, with the same policy.
    /// </summary>
    public static CertificateRefusedException Diagnose(X509Certificate2 certificate, TrustMaterial trust, DateTimeOffset now)
    {
        if (now.UtcDateTime > certificate.NotAfter.ToUniversalTime())
        {
            return Invalid($"The certificate expired at {certificate.NotAfter.ToUniversalTime():u}; ask your CA for a new one.");
        }

        if (now.UtcDateTime < certificate.NotBefore.ToUniversalTime())
        {
            return Invalid($"The certificate is not valid before {certificate.NotBefore.ToUniversalTime():u}.");
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trust.Roots);
        chain.ChainPolicy.ExtraStore.AddRange(trust.Intermediates);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2"));
        chain.Build(certificate);
        var statuses = chain.ChainStatus.Select(s => s.Status).ToHashSet();
        if (statuses.Contains(X509ChainStatusFlags.NotValidForUsage))
        {
            return Invalid("The certificate is not valid for client authentication (its extended key usage lacks clientAuth).");
        }

        if (statuses.Overlaps([X509ChainStatusFlags.UntrustedRoot, X509ChainStatusFlags.PartialChain, X509ChainStatusFlags.NotSignatureValid]))
        {
            return Invalid("The certificate does not chain to a trust anchor of this node (issued by an unknown or foreign CA).");
        }

        var described = string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()));
        return Invalid($"The certificate failed validation ({(described.Length > 0 ? described : "unknown reason")}).");
    }

    private static CertificateRefusedException Invalid(string detail) =>
        new(ProblemTypes.CertificateInvalid, "The client certificate is not valid", detail);
}
