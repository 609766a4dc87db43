using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace GovShare.Contract;

/// <summary>
/// A department's connection to its node, from <c>govshare.department.json</c>: the node's
/// address, the department's PEM certificate and key, and the CA bundle that is the only trust
/// anchor for the node's certificate. Relative paths are relative to the file's folder.
/// </summary>
public sealed record DepartmentConnection(Uri Node, string Certificate, string Key, string Ca, string? Purpose = null)
{
    public const string FileName = "govshare.department.json";

    /// <summary>Reads the file; every missing or bad setting is reported at once.</summary>
    public static DepartmentConnection Load(string path, Uri? node = null, string? certificate = null, string? key = null, string? ca = null)
    {
        var errors = new List<string>();
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) ?? ".";
        JsonElement root = default;
        if (File.Exists(path))
        {
            try
            {
                using var document = JsonDocument.Parse(File.ReadAllText(path));
                root = document.RootElement.Clone();
            }
            catch (JsonException ex)
            {
                errors.Add($"{path} is not valid JSON: {ex.Message}");
            }
        }
        else if (node is null || certificate is null || key is null || ca is null)
        {
            errors.Add($"{path} does not exist; create it or give --node, --cert, --key and --ca.");
        }

        string? Setting(string name, string? given) => given ?? (root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null);
        string? FileSetting(string name, string? given)
        {
            var value = Setting(name, given);
            if (value is null)
            {
                errors.Add($"'{name}' is not set.");
                return null;
            }

            var full = System.IO.Path.IsPathRooted(value) || given is not null ? System.IO.Path.GetFullPath(value) : System.IO.Path.Combine(folder, value);
            if (!File.Exists(full))
            {
                errors.Add($"'{name}': {full} does not exist.");
            }

            return full;
        }

        var nodeText = node?.ToString() ?? Setting("node", null);
        Uri? nodeUri = null;
        if (nodeText is null)
        {
            errors.Add("'node' (the node's https address) is not set.");
        }
        else if (!Uri.TryCreate(nodeText, UriKind.Absolute, out nodeUri) || nodeUri.Scheme != Uri.UriSchemeHttps)
        {
            errors.Add($"'node': '{nodeText}' is not an https address.");
        }

        var certificatePath = FileSetting("certificate", certificate);
        var keyPath = FileSetting("key", key);
        var caPath = FileSetting("ca", ca);
        if (errors.Count > 0)
        {
            throw new DepartmentConnectionException(errors);
        }

        var baseAddress = nodeUri!.AbsoluteUri.EndsWith('/') ? nodeUri : new Uri(nodeUri.AbsoluteUri + "/");
        return new DepartmentConnection(baseAddress, certificatePath!, keyPath!, caPath!, Setting("purpose", null));
    }

    /// <summary>
    /// The certificate, key and CA bundle, read once (<see cref="DepartmentCredentials.Load"/>) and
    /// shared by every client this connection makes; null: <see cref="CreateHttpClient"/> reads the files.
    /// </summary>
    public DepartmentCredentials? Credentials { get; init; }

    /// <summary>
    /// An HTTP client that presents the department's certificate and trusts only the configured CA
    /// for the node's certificate (never the system store).
    /// </summary>
    public HttpClient CreateHttpClient(TimeSpan? timeout = null)
    {
        var credentials = Credentials ?? DepartmentCredentials.Load(this);
        var client = credentials.Client;
        var anchors = credentials.Anchors;
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [client],
                LocalCertificateSelectionCallback = (_, _, _, _, _) => client,
                RemoteCertificateValidationCallback = (_, server, sent, errors) =>
                {
                    if (server is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                    {
                        return false;
                    }

                    using var chain = new X509Chain();
                    foreach (var element in sent?.ChainElements ?? (IEnumerable<X509ChainElement>)[])
                    {
                        chain.ChainPolicy.ExtraStore.Add(element.Certificate);
                    }

                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.AddRange(anchors);
                    // The node checks revocation of departments; a department cannot reach the
                    // province's CRL point from every network, so it relies on the pinned CA.
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    using var certificate = new X509Certificate2(server);
                    return chain.Build(certificate);
                },
            },
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            // Below the node's Node:KeepAliveTimeout (30 s): a sync that reads its source for longer
            // between two calls opens a new connection rather than sending on one the node is closing.
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(20),
        };
        return new HttpClient(handler, disposeHandler: true) { BaseAddress = Node, Timeout = timeout ?? Timeout.InfiniteTimeSpan };
    }
}

/// <summary>
/// A department's certificate with its private key, and the CA bundle that is the only trust
/// anchor for the node: read from the files of a <see cref="DepartmentConnection"/> once per
/// process (each read costs a PEM parse and a PKCS#12 round trip) and shared.
/// </summary>
public sealed class DepartmentCredentials
{
    private DepartmentCredentials(X509Certificate2 client, X509Certificate2Collection anchors)
    {
        Client = client;
        Anchors = anchors;
    }

    /// <summary>The department's certificate with its private key, in a form SslStream can use on every platform.</summary>
    public X509Certificate2 Client { get; }

    /// <summary>The node's only trust anchors.</summary>
    public X509Certificate2Collection Anchors { get; }

    /// <summary>The certificates of a PEM CA bundle; empty when the file holds none or is not PEM.</summary>
    public static X509Certificate2Collection ReadAnchors(string caFile)
    {
        var anchors = new X509Certificate2Collection();
        try
        {
            anchors.ImportFromPemFile(caFile);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            anchors.Clear();
        }

        return anchors;
    }

    /// <summary>
    /// Reads the certificate, key and CA bundle (or takes <paramref name="anchors"/> already read by
    /// <see cref="ReadAnchors"/>), so a wrong file is a settings error that names the file, not a
    /// TLS failure taken for an unreachable node.
    /// </summary>
    /// <exception cref="DepartmentConnectionException">Every unusable file, at once.</exception>
    public static DepartmentCredentials Load(DepartmentConnection connection, X509Certificate2Collection? anchors = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var errors = new List<string>();
        X509Certificate2? client = null;
        try
        {
            var pem = X509Certificate2.CreateFromPemFile(connection.Certificate, connection.Key);
            if (OperatingSystem.IsLinux())
            {
                // OpenSSL's SslStream signs with the PEM's in-memory key as it is; the PKCS#12 round
                // trip below (an export and an import, each a password-based key derivation) cost
                // every department command its CPU on the way to the node's TLS handshake.
                client = pem;
            }
            else
            {
                // Windows' SChannel (and macOS) need a key from a PKCS#12 import, not PEM's ephemeral one.
                using (pem)
                {
                    client = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
                }
            }
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            errors.Add($"'certificate' and 'key': {connection.Certificate} and {connection.Key} are not a PEM certificate and its PEM private key. "
                + "A DER file (.cer, .der) converts with: openssl x509 -inform der -in dept.cer -out dept.crt");
        }

        anchors ??= ReadAnchors(connection.Ca);
        if (anchors.Count == 0)
        {
            errors.Add($"'ca': {connection.Ca} holds no PEM certificate; it must be the province's trust anchors (trust-anchors.pem).");
        }

        if (errors.Count > 0)
        {
            client?.Dispose();
            throw new DepartmentConnectionException(errors);
        }

        return new DepartmentCredentials(client!, anchors);
    }
}
