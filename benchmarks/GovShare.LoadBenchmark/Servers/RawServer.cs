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
        // The durable baseline: the same body, after a record of the node's exchange-record size
        // is appended to a group-committed, fsync'd file (what durability alone costs).
        await using var log = new GroupCommitFile(Path.Combine(config.Folder, $"durable-{Environment.ProcessId}.log"));
        var recordBytes = Math.Max(64, config.RecordBytes);
        long appended = 0;
        app.MapGet("/small-durable", async (HttpContext context) =>
        {
            var record = new byte[recordBytes];
            var n = Interlocked.Increment(ref appended);
            record.AsSpan().Fill((byte)'x');
            System.Text.Encoding.ASCII.GetBytes($"{{\"seq\":{n},\"pad\":\"").CopyTo(record, 0);
            record[^2] = (byte)'}';
            record[^1] = (byte)'\n';
            await log.AppendAsync(record);
            context.Response.ContentType = Population.ArrowMediaType;
            await context.Response.Body.WriteAsync(small.Value);
        });
        // For the driver: records an fsync = /small-durable requests ÷ the fsyncs between two reads.
        app.MapGet("/fsyncs", () => Results.Text(log.Fsyncs.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        // For the driver: bytes a request = what this process allocated between two reads ÷ the requests
        // (the node's own figure comes from its /metrics, the runtime's dotnet.gc.heap.total_allocated).
        app.MapGet("/allocated", () => Results.Text(GC.GetTotalAllocatedBytes(precise: false).ToString(System.Globalization.CultureInfo.InvariantCulture)));

        // The push baseline: the body straight from Kestrel's pipe into a file in 1 MiB writes (no
        // copy through a stream buffer), one fsync at the end. Nothing the node does can be faster.
        // It keeps its last uploads as the node keeps a resource's last versions, deleting the
        // oldest beyond them once the new one is durable, as the node prunes: so both write into
        // pages the kernel must find, never into the pages of the file just deleted (on this VM
        // those are cheaper to write than pages handed back to the host; benchmarks/README.md, Push).
        var kept = new Queue<string>();
        var keep = Math.Max(1, config.KeepUploads);
        app.MapPost("/upload", async (HttpContext context) =>
        {
            var path = Path.Combine(config.Folder, $"upload-{Guid.NewGuid():N}.tmp");
            var bytes = await UploadAsync(context.Request.BodyReader, path, context.RequestAborted);
            lock (kept)
            {
                kept.Enqueue(path);
                while (kept.Count > keep)
                {
                    File.Delete(kept.Dequeue());
                }
            }

            return Results.Ok(new { bytes });
        });

        await app.StartAsync();
        ServerConfig.Ready(new Uri(app.Urls.First()));
        await ServerConfig.WaitForStopAsync();
        await app.StopAsync();
        return 0;
    }

    private const int UploadWrite = 1 << 20;

    /// <summary>Reads the body through the pipe, writes it in ≥ 1 MiB writes at explicit offsets (each handed to writeback at once, as the node does), fsyncs once.</summary>
    internal static async Task<long> UploadAsync(System.IO.Pipelines.PipeReader body, string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
        var file = stream.SafeFileHandle;
        long offset = 0;
        var segments = new List<ReadOnlyMemory<byte>>();
        while (true)
        {
            var read = await body.ReadAsync(cancellationToken);
            var buffer = read.Buffer;
            if (buffer.Length < UploadWrite && !read.IsCompleted)
            {
                body.AdvanceTo(buffer.Start, buffer.End); // wait for more: nothing consumed yet
                continue;
            }

            segments.Clear();
            foreach (var segment in buffer)
            {
                segments.Add(segment);
            }

            await RandomAccess.WriteAsync(file, segments, offset, cancellationToken);
            // The node starts each piece's writeback as it arrives (sync_file_range), so its
            // commit's fsync waits only for the tail; the baseline does the same, or it would
            // measure the node's head start rather than its work.
            GovShare.Node.Exchange.Datasets.WriteBack.Start(file, offset, buffer.Length);
            offset += buffer.Length;
            body.AdvanceTo(buffer.End);
            if (read.IsCompleted)
            {
                break;
            }
        }

        await body.CompleteAsync();
        stream.Flush(flushToDisk: true);
        return offset;
    }

    /// <summary>One loopback HTTPS listener that requires a client certificate chaining to our roots.</summary>
    internal static void ConfigureMutualTls(WebApplicationBuilder builder, ServerConfig config)
    {
        var certificate = ServerConfig.LoadCertificate(config.Certificate, config.Key);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPemFile(config.Certificate);
        var validation = config.ClientValidation();
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = config.InlineScheduling);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null;
            // Room for the upload's 1 MiB writes: the pipe pauses the socket at this mark.
            kestrel.Limits.MaxRequestBufferSize = 4 * UploadWrite;
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
