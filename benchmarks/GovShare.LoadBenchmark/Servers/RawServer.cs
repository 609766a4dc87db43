using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace GovShare.LoadBenchmark.Servers;

/// <summary>
/// <c>serve-raw</c>: the baseline, a minimal Kestrel mTLS service with no GovShare in it. It
/// serves files as they are (<c>GET /files/{name}</c>), a small body from memory
/// (<c>GET /small</c>), and takes uploads to a file, fsync'd like a push (<c>POST /upload</c>).
/// </summary>
public static class RawServer
{
    public const string Role = "serve-raw";

    public static async Task<int> RunAsync(string configPath)
    {
        var config = ServerConfig.Read(configPath);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        ConfigureMutualTls(builder, config);
        await using var app = builder.Build();

        var small = new Lazy<byte[]>(() => File.ReadAllBytes(Path.Combine(config.Folder, "small.arrow")));
        app.MapGet("/files/{name}", (string name) =>
            Results.File(Path.Combine(config.Folder, Path.GetFileName(name)), Population.ArrowMediaType));
        app.MapGet("/small", (HttpContext context) =>
        {
            context.Response.ContentType = Population.ArrowMediaType;
            return context.Response.Body.WriteAsync(small.Value).AsTask();
        });
        app.MapPost("/upload", async (HttpContext context) =>
        {
            var path = Path.Combine(config.Folder, $"upload-{Guid.NewGuid():N}.tmp");
            long bytes;
            await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await context.Request.Body.CopyToAsync(file, 1 << 16, context.RequestAborted);
                await file.FlushAsync(context.RequestAborted);
                file.Flush(flushToDisk: true);
                bytes = file.Length;
            }

            File.Delete(path);
            return Results.Ok(new { bytes });
        });

        await app.StartAsync();
        ServerConfig.Ready(new Uri(app.Urls.First()));
        await ServerConfig.WaitForStopAsync();
        await app.StopAsync();
        return 0;
    }

    /// <summary>One loopback HTTPS listener that requires a client certificate chaining to our roots.</summary>
    internal static void ConfigureMutualTls(WebApplicationBuilder builder, ServerConfig config)
    {
        var certificate = ServerConfig.LoadCertificate(config.Certificate, config.Key);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPemFile(config.Certificate);
        var validation = config.ClientValidation();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Listen(ServerConfig.Loopback(config.Port), listen => listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = certificate,
                ServerCertificateChain = chain,
                SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                ClientCertificateMode = ClientCertificateMode.RequireCertificate,
                ClientCertificateValidation = (client, clientChain, errors) => validation(client, clientChain, errors),
            }));
        });
    }
}
