using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Identity;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Hierarchy;

/// <summary>
/// Reads the key a node presents at its exchange address, in a TLS handshake made as this node,
/// so that linking pins what the peer actually serves: the operator names the peer's address
/// (which they must know anyway) and compares the printed fingerprint with the one the peer's
/// operator reads out, as with an SSH host key. The certificate is judged exactly as forwarding
/// judges it (our anchors, CRLs, node issuer, division), so a link never pins a key that a
/// forwarded exchange would refuse.
/// </summary>
public sealed class PeerKeyProbe(TrustMaterial trust, CrlStore crls, IOptions<HierarchyOptions> options)
{
    /// <summary>The SHA-256 of the peer's key, or the reason it cannot be pinned.</summary>
    public async Task<(string? KeySha256, string? Problem)> FetchAsync(string url, string divisionCode, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var address) || address.Scheme != Uri.UriSchemeHttps)
        {
            return (null, $"url: '{url}' is not an https:// address.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.ConnectTimeout);
        string? key = null;
        var problem = $"{url} presented no certificate";
        try
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(address.DnsSafeHost, address.Port, timeout.Token);
            await using var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = address.DnsSafeHost,
                ClientCertificates = [trust.NodeCertificate],
                LocalCertificateSelectionCallback = (_, _, _, _, _) => trust.NodeCertificate,
                // A resumed session would show the certificate of an earlier handshake: the key to pin is the one served now.
                AllowTlsResume = false,
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    if (certificate is null)
                    {
                        return false;
                    }

                    using var presented = new X509Certificate2(certificate);
                    if (NodeForwarder.PeerProblem(presented, trust, crls, divisionCode, null) is { } reason)
                    {
                        problem = reason;
                        return false;
                    }

                    key = TrustMaterial.SpkiSha256(presented);
                    return true;
                },
            }, timeout.Token);
        }
        catch (System.Security.Authentication.AuthenticationException) when (key is null)
        {
            return (null, $"url: the node at {url} cannot be linked as {divisionCode}: {problem}.");
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException or System.Security.Authentication.AuthenticationException)
        {
            return (null, $"url: cannot read node {divisionCode}'s key at {url} ({ex.Message}); is it running? Give its key with keySha256 instead.");
        }

        return key is null ? (null, $"url: the node at {url} cannot be linked as {divisionCode}: {problem}.") : (key, null);
    }
}
