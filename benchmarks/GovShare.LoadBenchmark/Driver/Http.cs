using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using GovShare.Contract;

namespace GovShare.LoadBenchmark.Driver;

/// <summary>The driver's HTTPS clients and transfers: a department's certificate, our root only.</summary>
internal static class Http
{
    public const string Purpose = "benchmark";

    public static HttpClient Client(X509Certificate2 certificate, X509Certificate2Collection roots, Uri baseAddress)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = [certificate],
                LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate,
                RemoteCertificateValidationCallback = (_, server, sent, _) =>
                {
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                    foreach (var element in sent?.ChainElements ?? (IEnumerable<X509ChainElement>)[])
                    {
                        chain.ChainPolicy.ExtraStore.Add(element.Certificate);
                    }

                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return server is not null && chain.Build(new X509Certificate2(server));
                },
            },
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        };
        return new HttpClient(handler) { BaseAddress = baseAddress, Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>A pull of the benchmark's items, as a department sends it.</summary>
    public static HttpRequestMessage Pull(string code, string accept = MediaTypes.ArrowStream)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, Population.DataPath(code, "items=" + Uri.EscapeDataString(Population.PulledItems)));
        request.Headers.Add(GovShareHeaders.Purpose, Purpose);
        request.Headers.Accept.ParseAdd(accept);
        return request;
    }

    public static HttpRequestMessage Get(string path) => new(HttpMethod.Get, path);

    /// <summary>Sends, reads the whole body (into <paramref name="copyTo"/> or discarding it), and times it.</summary>
    public static async Task<Transfer> DownloadAsync(HttpClient client, HttpRequestMessage request, Stream? copyTo = null, Action<long>? progress = null)
    {
        var started = Stopwatch.GetTimestamp();
        using (request)
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            await EnsureOkAsync(response, request);
            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[1 << 17];
            long total = 0;
            int read;
            while ((read = await body.ReadAsync(buffer)) > 0)
            {
                total += read;
                if (copyTo is not null)
                {
                    await copyTo.WriteAsync(buffer.AsMemory(0, read));
                }

                progress?.Invoke(total);
            }

            return new Transfer(total, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    /// <summary>Uploads a file (Content-Length known), the way a department pushes a prepared stream.</summary>
    public static async Task<Transfer> UploadAsync(HttpClient client, string path, string file)
    {
        var started = Stopwatch.GetTimestamp();
        await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        using var content = new StreamContent(stream, 1 << 16);
        content.Headers.ContentType = new MediaTypeHeaderValue(MediaTypes.ArrowStream);
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        using var response = await client.SendAsync(request);
        await EnsureOkAsync(response, request);
        return new Transfer(stream.Length, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    public static async Task EnsureOkAsync(HttpResponseMessage response, HttpRequestMessage request)
    {
        if (response.StatusCode != HttpStatusCode.OK)
        {
            var body = await response.Content.ReadAsStringAsync();
            throw new InvalidOperationException($"{request.Method} {request.RequestUri} answered {(int)response.StatusCode}: {body}");
        }
    }
}

/// <summary>Bytes moved and the seconds it took.</summary>
internal readonly record struct Transfer(long Bytes, double Seconds)
{
    public double MegabytesPerSecond => Bytes / 1e6 / Seconds;
}
