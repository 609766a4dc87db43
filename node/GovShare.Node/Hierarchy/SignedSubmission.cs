using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using GovShare.Contract;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Http;

namespace GovShare.Node.Hierarchy;

/// <summary>
/// A document a child node sends up to its parent, signed with the child node's key (the private key
/// of its node certificate): the channel the annual report (Art. 40) travels on, built so other
/// documents that go up the tree (catalog filings, Art. 12) can share it. The signature is detached
/// and covers <see cref="SigningInput"/>: the kind, the sending node, the subject (e.g. the year),
/// the signing time and the SHA-256 of <see cref="Payload"/>'s exact bytes. The parent keeps the
/// submission verbatim, so anyone can verify it again later from what is stored.
/// </summary>
/// <param name="Kind">What the payload is, e.g. <c>annual-report</c>; part of what is signed, so a signature for one kind never passes for another.</param>
/// <param name="Node">The sending node's division code.</param>
/// <param name="Subject">What the document is about within its kind: the year of an annual report.</param>
/// <param name="SignedAt">When the child signed it.</param>
/// <param name="Payload">The document's bytes (UTF-8 JSON), base64.</param>
/// <param name="PayloadSha256">SHA-256 of the payload's bytes, lowercase hex.</param>
/// <param name="Signature">ECDSA P-256 / SHA-256 signature over <see cref="SigningInput"/>, base64 (IEEE P1363).</param>
/// <param name="Certificate">The signer's node certificate, PEM.</param>
public sealed record SignedSubmission(string Kind, string Node, string Subject, DateTimeOffset SignedAt, string Payload, string PayloadSha256, string Signature, string Certificate)
{
    /// <summary>
    /// The largest submission a parent reads. The parent keeps it in its change log, whose records Kafka carries in
    /// messages of at most 1 MB by default (<c>message.max.bytes</c>), so a submission stays well under that.
    /// </summary>
    public const long MaxBytes = 768 * 1024;

    /// <summary>The exact text the signature covers; never change it without a new version prefix.</summary>
    public static byte[] SigningInput(string kind, string node, string subject, DateTimeOffset signedAt, string payloadSha256) =>
        Encoding.UTF8.GetBytes($"govshare-submission/1\n{kind}\n{node}\n{subject}\n{signedAt.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffffffZ}\n{payloadSha256}");

    /// <summary>Signs <paramref name="payload"/> with <paramref name="nodeCertificate"/>'s private key (ECDSA, as every GovShare node key is).</summary>
    public static SignedSubmission Sign(string kind, string node, string subject, byte[] payload, X509Certificate2 nodeCertificate, DateTimeOffset signedAt)
    {
        ArgumentNullException.ThrowIfNull(payload);
        ArgumentNullException.ThrowIfNull(nodeCertificate);
        using var key = nodeCertificate.GetECDsaPrivateKey() ?? throw new InvalidOperationException("Node:Certificate has no ECDSA key; submissions to the parent are signed with it.");
        var hash = Convert.ToHexStringLower(SHA256.HashData(payload));
        var signature = key.SignData(SigningInput(kind, node, subject, signedAt, hash), HashAlgorithmName.SHA256);
        return new SignedSubmission(kind, node, subject, signedAt, Convert.ToBase64String(payload), hash, Convert.ToBase64String(signature), nodeCertificate.ExportCertificatePem());
    }

    /// <summary>
    /// Checks a submission from the linked child <paramref name="child"/> (already authenticated as that node on the
    /// connection): of <paramref name="kind"/> about <paramref name="subject"/>, signed by a node certificate of that
    /// child from this node's trust, carrying the key the link pins, over exactly the payload that came. Returns the
    /// payload's bytes, or why not.
    /// </summary>
    public SubmissionCheck Verify(string kind, NodeLink child, string subject, TrustMaterial trust, CrlStore crls)
    {
        ArgumentNullException.ThrowIfNull(child);
        if (Kind != kind)
        {
            return SubmissionCheck.Refused(SubmissionFault.Mismatch, $"kind: the submission is '{Kind}', this address takes '{kind}'.");
        }

        if (Node != child.DivisionCode)
        {
            return SubmissionCheck.Refused(SubmissionFault.Mismatch, $"node: the submission names node {Node}, but node {child.DivisionCode} sent it.");
        }

        if (Subject != subject)
        {
            return SubmissionCheck.Refused(SubmissionFault.Mismatch, $"subject: the submission is about {Subject}, but was sent for {subject}.");
        }

        byte[] payload, signature;
        X509Certificate2 signer;
        try
        {
            payload = Convert.FromBase64String(Payload ?? "");
            signature = Convert.FromBase64String(Signature ?? "");
            signer = X509Certificate2.CreateFromPem(Certificate ?? "");
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException or ArgumentException)
        {
            return SubmissionCheck.Refused(SubmissionFault.Malformed, "payload and signature are base64 and certificate a PEM certificate.");
        }

        using (signer)
        {
            if (NodeForwarder.PeerProblem(signer, trust, crls, child.DivisionCode, child.KeySha256) is { } problem)
            {
                return SubmissionCheck.Refused(SubmissionFault.SignerRefused, $"The signer is not node {child.DivisionCode} as linked: {problem}.");
            }

            var hash = Convert.ToHexStringLower(SHA256.HashData(payload));
            using var key = signer.GetECDsaPublicKey();
            if (hash != PayloadSha256 || key is null || !key.VerifyData(SigningInput(Kind, Node, Subject, SignedAt, PayloadSha256), signature, HashAlgorithmName.SHA256))
            {
                return SubmissionCheck.Refused(SubmissionFault.SignatureInvalid,
                    $"The signature of node {child.DivisionCode} does not cover what arrived (payload sha256:{hash}); it was changed after signing, or signed with another key.");
            }

            return new SubmissionCheck(SubmissionFault.None, null, payload, TrustMaterial.SpkiSha256(signer));
        }
    }
}

/// <summary>Why a submission was refused.</summary>
public enum SubmissionFault
{
    None,

    /// <summary>Not decodable: base64 or PEM broken.</summary>
    Malformed,

    /// <summary>It is not what this address takes: another kind, node or subject (year).</summary>
    Mismatch,

    /// <summary>The signer is not the linked child: not a node certificate of this trust, another node, or not the pinned key.</summary>
    SignerRefused,

    /// <summary>The signature does not verify over what arrived (changed after signing).</summary>
    SignatureInvalid,
}

/// <summary>The outcome of <see cref="SignedSubmission.Verify"/>: the payload and the signer's key SHA-256, or the fault and why.</summary>
public sealed record SubmissionCheck(SubmissionFault Fault, string? Detail, byte[]? Payload, string? SignerKeySha256)
{
    public static SubmissionCheck Refused(SubmissionFault fault, string detail) => new(fault, detail, null, null);

    /// <summary>The problem+json a refused submission is answered with (null when it verified); <paramref name="document"/> names what it carried ("report").</summary>
    public IResult? Refusal(string document) => Fault switch
    {
        SubmissionFault.Malformed => Problem.Result(400, ProblemTypes.MalformedRequest, $"Malformed {document} submission", Detail),
        SubmissionFault.Mismatch => Problem.Result(400, ProblemTypes.ReportMismatch, $"The submission is not the {document} this address takes", Detail),
        SubmissionFault.SignerRefused => Problem.Result(403, ProblemTypes.ReportSignerRefused, $"The {document} is not signed by this child node", Detail),
        SubmissionFault.SignatureInvalid => Problem.Result(400, ProblemTypes.ReportSignatureInvalid, $"The {document}'s signature does not verify", Detail),
        _ => null,
    };
}
