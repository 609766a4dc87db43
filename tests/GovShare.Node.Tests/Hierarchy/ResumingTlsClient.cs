using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using GovShare.Node.Tests.Functional;

namespace GovShare.Node.Tests.Hierarchy;

/// <summary>
/// One HTTP/1.1 request on a fresh TCP connection over .NET's own <see cref="SslStream"/>, saying whether the TLS
/// handshake resumed an earlier session. .NET resumes by itself (the session is cached with the client's TLS
/// context, which is shared by handshakes with equal options: same certificate, target host, protocols) and offers
/// no public way to ask whether it did (<c>SslConnectionInfo.TlsResumed</c> exists in debug builds of the runtime
/// only), so the answer is read from the handshake bytes the server sent, which are plain text up to its
/// ChangeCipherSpec: in TLS 1.2 a resumed handshake has no Certificate message (the peers' certificates are the
/// session's, from its first handshake); in TLS 1.3 the server's ServerHello accepts a pre-shared key.
/// </summary>
internal static class ResumingTlsClient
{
    private const byte ChangeCipherSpec = 20;
    private const byte Handshake = 22;
    private const byte ServerHello = 2;
    private const byte Certificate = 11;
    private const ushort SupportedVersions = 43;
    private const ushort PreSharedKey = 41;

    /// <summary>Sends <c>GET <paramref name="path"/></c> to <paramref name="port"/> on loopback; the status, the body, and whether the handshake resumed.</summary>
    public static async Task<(int Status, string Body, bool Resumed)> GetAsync(int port, SslClientAuthenticationOptions tls, string path)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(System.Net.IPAddress.Loopback, port);
        using var handshakeBytes = new MemoryStream();
        var recording = true;
        await using var stream = new SslStream(new ReadTap(tcp.GetStream(), bytes =>
        {
            if (recording)
            {
                handshakeBytes.Write(bytes);
            }
        }));
        await stream.AuthenticateAsClientAsync(tls);
        recording = false;
        var handshake = handshakeBytes.ToArray();

        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {tls.TargetHost}\r\nConnection: close\r\n\r\n"));
        await stream.FlushAsync();
        using var response = new MemoryStream();
        await stream.CopyToAsync(response); // Connection: close — the server ends the stream after its answer.
        try
        {
            // A session ended without close_notify is "bad" to OpenSSL and dropped from the client's cache: never resumed.
            await stream.ShutdownAsync();
        }
        catch (IOException)
        {
            // The server may have closed the socket already; the session was marked ended well before the write.
        }

        var text = Encoding.UTF8.GetString(response.ToArray());
        var status = int.Parse(text.AsSpan(9, 3), provider: System.Globalization.CultureInfo.InvariantCulture); // "HTTP/1.1 200 …"
        var body = text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        return (status, body, Resumed(handshake));
    }

    /// <summary>Whether the server's plain-text handshake (<paramref name="fromServer"/>, records up to its ChangeCipherSpec) resumed a session.</summary>
    internal static bool Resumed(byte[] fromServer)
    {
        // The handshake messages of the plain-text records, which a message may span.
        using var messages = new MemoryStream();
        for (var at = 0; at + 5 <= fromServer.Length;)
        {
            var type = fromServer[at];
            var length = BinaryPrimitives.ReadUInt16BigEndian(fromServer.AsSpan(at + 3));
            if (type == ChangeCipherSpec)
            {
                break; // Encrypted from here on (TLS 1.2), or only encrypted records follow (TLS 1.3).
            }

            if (type == Handshake)
            {
                messages.Write(fromServer, at + 5, Math.Min(length, fromServer.Length - at - 5));
            }

            at += 5 + length;
        }

        var bytes = messages.ToArray();
        var sawCertificate = false;
        bool? tls13Psk = null;
        for (var at = 0; at + 4 <= bytes.Length;)
        {
            var type = bytes[at];
            var length = (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
            var body = bytes.AsSpan(at + 4, Math.Min(length, bytes.Length - at - 4));
            if (type == ServerHello)
            {
                tls13Psk = ServerHelloPsk(body);
            }

            sawCertificate |= type == Certificate;
            at += 4 + length;
        }

        Assert.True(bytes.Length > 0 && bytes[0] == ServerHello, "the server's first plain-text handshake message is its ServerHello");
        return tls13Psk ?? !sawCertificate;
    }

    /// <summary>For a TLS 1.3 ServerHello, whether it accepts a pre-shared key (a resumption); null for TLS 1.2.</summary>
    private static bool? ServerHelloPsk(ReadOnlySpan<byte> hello)
    {
        // version(2) random(32) session_id<0..32> cipher_suite(2) compression(1) extensions<0..2^16-1>
        var at = 2 + 32;
        at += 1 + hello[at];
        at += 2 + 1;
        if (at + 2 > hello.Length)
        {
            return null;
        }

        var end = at + 2 + BinaryPrimitives.ReadUInt16BigEndian(hello[at..]);
        var tls13 = false;
        var psk = false;
        for (at += 2; at + 4 <= end && at + 4 <= hello.Length;)
        {
            var type = BinaryPrimitives.ReadUInt16BigEndian(hello[at..]);
            tls13 |= type == SupportedVersions;
            psk |= type == PreSharedKey;
            at += 4 + BinaryPrimitives.ReadUInt16BigEndian(hello[(at + 2)..]);
        }

        return tls13 ? psk : null;
    }
}
