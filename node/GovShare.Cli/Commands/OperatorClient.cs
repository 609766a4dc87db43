using System.CommandLine;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace GovShare.Cli.Commands;

/// <summary>
/// Calls a node's operator API on its management listener as a person (an operator certificate
/// over https://) or, on the node's host, with the bootstrap token read from the node's data
/// folder; shows the answer (or the problem) to a person.
/// </summary>
internal static class OperatorClient
{
    public static readonly Option<string> Management = new("--management")
    {
        Description = "The node's management address.",
        DefaultValueFactory = _ => "http://127.0.0.1:8444",
        Recursive = true,
    };

    public static readonly Option<string> Data = new("--data")
    {
        Description = "The node's data folder (holds operator.token).",
        DefaultValueFactory = _ => "data",
        Recursive = true,
    };

    public static readonly Option<string?> Certificate = new("--operator-certificate")
    {
        Description = "Your operator certificate (PEM, from 'govshare certs operator'); the management address must then be https://. Without it, the bootstrap token from --data is used (loopback only).",
        Recursive = true,
    };

    public static readonly Option<string?> Key = new("--operator-key")
    {
        Description = "The private key of --operator-certificate (PEM); default: the certificate's path with .key.",
        Recursive = true,
    };

    public static readonly Option<string?> TrustAnchors = new("--ca")
    {
        Description = "PEM trust anchors that the node's certificate must chain to (https:// management only); default: trust-anchors.pem beside the certificate's PKI.",
        Recursive = true,
    };

    /// <summary>
    /// Calls the node; on success <paramref name="success"/> takes the response (default: print its JSON).
    /// <paramref name="timeout"/> null means the default 30 s; a backup passes <see cref="Timeout.InfiniteTimeSpan"/>.
    /// </summary>
    public static async Task<int> CallAsync(ParseResult parse, Func<HttpClient, Task<HttpResponseMessage>> call, Func<HttpResponseMessage, Task<int>>? success = null, TimeSpan? timeout = null)
    {
        if (!Uri.TryCreate(parse.GetValue(Management), UriKind.Absolute, out var management))
        {
            await Console.Error.WriteLineAsync($"--management: '{parse.GetValue(Management)}' is not an address.");
            return ExitCodes.Usage;
        }

        HttpClient client;
        if (parse.GetValue(Certificate) is { } certificatePath)
        {
            try
            {
                client = PersonClient(management, certificatePath, parse.GetValue(Key), parse.GetValue(TrustAnchors));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                await Console.Error.WriteLineAsync($"Cannot use the operator certificate '{certificatePath}': {ex.Message}");
                return ExitCodes.Usage;
            }
        }
        else
        {
            string token;
            try
            {
                token = Node.Management.OperatorToken.ReadFrom(parse.GetValue(Data)!);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"Cannot read the operator token in '{parse.GetValue(Data)}' (--data): {ex.Message}. Give --operator-certificate to act as yourself.");
                return ExitCodes.Usage;
            }

            client = new HttpClient { BaseAddress = management };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var owned = client;
        client.Timeout = timeout ?? TimeSpan.FromSeconds(30);
        HttpResponseMessage response;
        try
        {
            response = await call(client);
        }
        catch (HttpRequestException ex)
        {
            await Console.Error.WriteLineAsync($"The node at {management} cannot be reached: {ex.Message}");
            return ExitCodes.Unreachable;
        }

        using (response)
        {
            if (response.IsSuccessStatusCode && success is not null)
            {
                return await success(response);
            }

            var body = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode)
            {
                if (body.Length > 0)
                {
                    using var document = JsonDocument.Parse(body);
                    Console.WriteLine(DepartmentJson.Indented(document.RootElement));
                }

                return ExitCodes.Ok;
            }

            await Console.Error.WriteLineAsync(ProblemText.Describe(response.StatusCode, body));
            return ExitCodes.Failed;
        }
    }

    /// <summary>An HTTPS client presenting the operator's own certificate, trusting only the given anchors for the node.</summary>
    private static HttpClient PersonClient(Uri management, string certificatePath, string? keyPath, string? anchorsPath)
    {
        if (management.Scheme != Uri.UriSchemeHttps)
        {
            throw new ArgumentException($"--management must be https:// to use an operator certificate (it is {management}).");
        }

        using var pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath ?? Path.ChangeExtension(certificatePath, ".key"));
        // A PKCS#12 round trip gives a key SslStream can use on every platform.
        var certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        var anchors = new X509Certificate2Collection();
        anchors.ImportFromPemFile(anchorsPath ?? Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(certificatePath)))!, "trust-anchors.pem"));
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [certificate],
                LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate,
                RemoteCertificateValidationCallback = (_, server, sent, _) =>
                {
                    if (server is null)
                    {
                        return false;
                    }

                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.AddRange(anchors);
                    foreach (var element in sent?.ChainElements ?? (IEnumerable<X509ChainElement>)[])
                    {
                        chain.ChainPolicy.ExtraStore.Add(element.Certificate);
                    }

                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    using var presented = new X509Certificate2(server);
                    return chain.Build(presented);
                },
            },
        };
        return new HttpClient(handler) { BaseAddress = management };
    }
}
