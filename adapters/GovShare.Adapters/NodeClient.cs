using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using GovShare.Contract;

namespace GovShare.Adapters;

/// <summary>The node's answer to a push.</summary>
public sealed record PushReceipt(string ExchangeId, long Version, long Rows);

/// <summary>
/// A department's client of a node's exchange API: push and pull Arrow IPC streams, search the
/// catalog. Takes any <see cref="HttpClient"/> whose base address is the node (mTLS in production,
/// a test node's client in tests).
/// </summary>
public sealed class NodeClient(HttpClient http)
{
    public const string ArrowStreamMediaType = MediaTypes.ArrowStream;

    /// <summary>The one place a resource's data address is built: the code in URL form (<c>/</c> becomes <c>-</c>), escaped.</summary>
    public static string ResourceDataPath(string resourceCode, string? query = null) =>
        $"v1/resources/{Uri.EscapeDataString(resourceCode.Replace('/', '-'))}/data" + (string.IsNullOrEmpty(query) ? "" : "?" + query);

    /// <summary>The address of a comparison with a resource (<c>POST</c>, the department's rows as an Arrow stream).</summary>
    public static string ResourceComparePath(string resourceCode, string? query = null) =>
        $"v1/resources/{Uri.EscapeDataString(resourceCode.Replace('/', '-'))}/compare" + (string.IsNullOrEmpty(query) ? "" : "?" + query);

    /// <summary>
    /// Compares a staged dataset (the key and compared items only) with the resource's current
    /// version inside the node; the answer is the node's JSON (counts, and the differing keys masked
    /// as the grant masks the key items).
    /// </summary>
    /// <exception cref="NodeRefusedException">The node answered with an error (problem+json).</exception>
    public async Task<JsonDocument> CompareAsync(string resourceCode, IReadOnlyList<string> keyItems, IReadOnlyList<string> items, string purpose, StagedDataset dataset, IProgress<long>? bytesSent = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(keyItems);
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(dataset);
        var query = string.Join("&", new[] { ("key", keyItems), ("items", items) }.Where(p => p.Item2.Count > 0).Select(p => p.Item1 + "=" + Uri.EscapeDataString(string.Join(",", p.Item2))));
        await using var stream = dataset.OpenRead();
        using var content = new StreamContent(new CountingStream(stream, bytesSent), 1 << 16);
        content.Headers.ContentType = new MediaTypeHeaderValue(ArrowStreamMediaType);
        content.Headers.ContentLength = stream.Length;
        using var request = new HttpRequestMessage(HttpMethod.Post, ResourceComparePath(resourceCode, query)) { Content = content };
        request.Headers.Add(GovShareHeaders.Purpose, purpose);
        using var response = await http.SendAsync(request, cancellation).ConfigureAwait(false);
        await ThrowIfRefusedAsync(response, cancellation).ConfigureAwait(false);
        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellation).ConfigureAwait(false), cancellationToken: cancellation).ConfigureAwait(false);
    }

    /// <summary>Pushes an Arrow IPC stream; <paramref name="bytesSent"/> reports upload progress.</summary>
    /// <exception cref="NodeRefusedException">The node answered with an error (problem+json).</exception>
    public async Task<PushReceipt> PushAsync(string resourceCode, PushMode mode, Stream arrowStream, IProgress<long>? bytesSent = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(arrowStream);
        using var content = new StreamContent(new CountingStream(arrowStream, bytesSent), 1 << 16);
        if (arrowStream.CanSeek)
        {
            content.Headers.ContentLength = arrowStream.Length - arrowStream.Position;
        }

        return await SendPushAsync(resourceCode, mode, content, cancellation).ConfigureAwait(false);
    }

    private async Task<PushReceipt> SendPushAsync(string resourceCode, PushMode mode, HttpContent content, CancellationToken cancellation)
    {
        var query = "mode=" + mode switch
        {
            PushMode.Append => "append",
            PushMode.Merge => MergeWire.Mode,
            _ => "replace",
        };
        content.Headers.ContentType = new MediaTypeHeaderValue(ArrowStreamMediaType);
        // Expect: 100-continue makes HttpClient read the node's answer while the body is still going
        // out (without it, it reads only after the last byte). A push the node refuses part-way — over
        // the resource's size cap, say — then ends with the node's problem+json, not with the broken
        // pipe of a connection the node closed; one refused by its declared length sends no body.
        using var request = new HttpRequestMessage(HttpMethod.Post, ResourceDataPath(resourceCode, query)) { Content = content };
        request.Headers.ExpectContinue = true;
        PhaseTrace.Mark("push request started");
        using var response = await http.SendAsync(request, cancellation).ConfigureAwait(false);
        PhaseTrace.Mark("node answered the push");
        await ThrowIfRefusedAsync(response, cancellation).ConfigureAwait(false);
        using var body = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellation).ConfigureAwait(false), cancellationToken: cancellation).ConfigureAwait(false);
        var root = body.RootElement;
        return new PushReceipt(
            root.TryGetProperty("exchangeId", out var id) ? id.ToString() : "",
            root.TryGetProperty("version", out var version) && version.TryGetInt64(out var v) ? v : 0,
            root.TryGetProperty("rows", out var rows) && rows.TryGetInt64(out var r) ? r : 0);
    }

    /// <summary>
    /// Pushes batches as they are made, converting and uploading at once (no temporary file). The
    /// first batch is taken before the request starts, so a mapping fault or a source that fails
    /// at once sends nothing. A source that fails later — a value that does not convert, a read
    /// error, Ctrl+C — stops the upload before its end-of-stream marker: the node publishes
    /// nothing (a push is atomic there), and the source's own exception is thrown here.
    /// </summary>
    /// <exception cref="NodeRefusedException">The node answered with an error (problem+json).</exception>
    public async Task<PushReceipt> PushAsync(string resourceCode, PushMode mode, IAsyncEnumerable<RecordBatch> batches, IProgress<long>? bytesSent = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(batches);
        await using var source = batches.GetAsyncEnumerator(cancellation);
        if (!await source.MoveNextAsync().ConfigureAwait(false))
        {
            throw new InvalidOperationException("The source yielded no batch, not even an empty one.");
        }

        using var content = new BatchStreamContent(source, bytesSent);
        try
        {
            return await SendPushAsync(resourceCode, mode, content, cancellation).ConfigureAwait(false);
        }
        catch (Exception) when (content.SourceFailure is { } failure)
        {
            // The upload was cut because the source failed: that failure is the story, not the cut.
            failure.Throw();
            throw;
        }
    }

    /// <summary>Pushes a staged dataset.</summary>
    public async Task<PushReceipt> PushAsync(string resourceCode, PushMode mode, StagedDataset dataset, IProgress<long>? bytesSent = null, CancellationToken cancellation = default)
    {
        await using var stream = dataset.OpenRead();
        return await PushAsync(resourceCode, mode, stream, bytesSent, cancellation).ConfigureAwait(false);
    }

    /// <summary>
    /// Pulls the granted <paramref name="items"/> (all granted items when empty) for a stated
    /// purpose, as record batches streamed from the response.
    /// </summary>
    public IAsyncEnumerable<RecordBatch> PullAsync(string resourceCode, IReadOnlyList<string> items, string purpose, IProgress<long>? bytesReceived = null, CancellationToken cancellation = default) =>
        PullAsync(resourceCode, items, purpose, onwardRecipient: null, bytesReceived, cancellation);

    /// <summary>
    /// Pulls as above, to pass the data on to <paramref name="onwardRecipient"/> (a department URI,
    /// <c>govshare:dept/&lt;division&gt;/&lt;credit code&gt;</c>; Art. 33): the node answers only when
    /// the provider consented to that recipient for this purpose, and logs the recipient.
    /// </summary>
    public IAsyncEnumerable<RecordBatch> PullAsync(string resourceCode, IReadOnlyList<string> items, string purpose, string? onwardRecipient, IProgress<long>? bytesReceived = null, CancellationToken cancellation = default) =>
        PullAsync(resourceCode, items, purpose, onwardRecipient, rowsAnnounced: null, bytesReceived, cancellation);

    /// <summary>
    /// Pulls as above; <paramref name="rowsAnnounced"/> is called once, before the first batch, with
    /// the rows the node announced (<see cref="GovShareHeaders.DataRows"/>) — not called when the
    /// node did not say, so a progress display shows no total rather than a wrong one.
    /// </summary>
    public async IAsyncEnumerable<RecordBatch> PullAsync(string resourceCode, IReadOnlyList<string> items, string purpose, string? onwardRecipient, Action<long>? rowsAnnounced, IProgress<long>? bytesReceived = null, [EnumeratorCancellation] CancellationToken cancellation = default)
    {
        var query = items.Count == 0 ? null : "items=" + string.Join(',', items.Select(Uri.EscapeDataString));
        using var request = new HttpRequestMessage(HttpMethod.Get, ResourceDataPath(resourceCode, query));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(ArrowStreamMediaType));
        request.Headers.Add(GovShareHeaders.Purpose, purpose);
        if (onwardRecipient is not null)
        {
            request.Headers.Add(GovShareHeaders.OnwardRecipient, onwardRecipient);
        }
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation).ConfigureAwait(false);
        await ThrowIfRefusedAsync(response, cancellation).ConfigureAwait(false);
        if (rowsAnnounced is not null && AnnouncedRows(response) is { } announced)
        {
            rowsAnnounced(announced);
        }

        await using var body = new CountingStream(await response.Content.ReadAsStreamAsync(cancellation).ConfigureAwait(false), bytesReceived);
        using var reader = new ArrowStreamReader(body);
        var yielded = false;
        RecordBatch? batch;
        while ((batch = await reader.ReadNextRecordBatchAsync(cancellation).ConfigureAwait(false)) is not null)
        {
            yielded = true;
            yield return batch;
        }

        if (!yielded && reader.Schema is { } schema)
        {
            yield return new RecordBatch(schema, schema.FieldsList.Select(f => ColumnAppender.For(ItemDataType.FromArrow(f.DataType) ?? ItemDataType.Utf8, TimeSpan.Zero).Build()), 0);
        }
    }

    /// <summary>The node's <see cref="GovShareHeaders.DataRows"/>: one non-negative number, else null (absent, repeated or malformed — a total is then unknown).</summary>
    internal static long? AnnouncedRows(HttpResponseMessage response) =>
        response.Headers.TryGetValues(GovShareHeaders.DataRows, out var values)
        && values.ToList() is [var only]
        && long.TryParse(only, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var rows)
            ? rows
            : null;

    /// <summary>The resource's catalog entry, for checking data against its items before a push.</summary>
    /// <exception cref="NodeRefusedException">No such resource, or the node refused.</exception>
    public async Task<CatalogCheck> GetCatalogCheckAsync(string resourceCode, CancellationToken cancellation = default)
    {
        PhaseTrace.Mark("catalog entry requested");
        using var response = await http.GetAsync("v1/catalog/" + Uri.EscapeDataString(resourceCode.Replace('/', '-')), cancellation).ConfigureAwait(false);
        PhaseTrace.Mark("catalog entry answered");
        await ThrowIfRefusedAsync(response, cancellation).ConfigureAwait(false);
        using var entry = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellation).ConfigureAwait(false), cancellationToken: cancellation).ConfigureAwait(false);
        return CatalogCheck.FromEntry(resourceCode, entry.RootElement);
    }

    /// <summary>The node's latest dataset version of the resource (0 when none), for the provider.</summary>
    public async Task<long> GetLatestVersionAsync(string resourceCode, CancellationToken cancellation = default)
    {
        using var response = await http.GetAsync($"v1/resources/{Uri.EscapeDataString(resourceCode.Replace('/', '-'))}/versions", cancellation).ConfigureAwait(false);
        await ThrowIfRefusedAsync(response, cancellation).ConfigureAwait(false);
        using var versions = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellation).ConfigureAwait(false), cancellationToken: cancellation).ConfigureAwait(false);
        return versions.RootElement.ValueKind == JsonValueKind.Array
            ? versions.RootElement.EnumerateArray().Select(v => v.TryGetProperty("version", out var n) && n.TryGetInt64(out var x) ? x : 0).DefaultIfEmpty(0).Max()
            : 0;
    }

    /// <summary>Searches the sharing catalog; the node's JSON answer as is.</summary>
    public async Task<JsonDocument> SearchCatalogAsync(string? query, CancellationToken cancellation = default)
    {
        var path = string.IsNullOrWhiteSpace(query) ? "v1/catalog" : "v1/catalog?q=" + Uri.EscapeDataString(query);
        using var response = await http.GetAsync(path, cancellation).ConfigureAwait(false);
        await ThrowIfRefusedAsync(response, cancellation).ConfigureAwait(false);
        return await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellation).ConfigureAwait(false), cancellationToken: cancellation).ConfigureAwait(false);
    }

    private static async Task ThrowIfRefusedAsync(HttpResponseMessage response, CancellationToken cancellation)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new NodeRefusedException(response.StatusCode, await response.Content.ReadAsStringAsync(cancellation).ConfigureAwait(false));
        }
    }
}

/// <summary>The node refused a call; <see cref="Body"/> is its problem+json.</summary>
public sealed class NodeRefusedException(HttpStatusCode status, string body)
    : Exception($"The node refused the call ({(int)status}).")
{
    public HttpStatusCode Status { get; } = status;
    public string Body { get; } = body;
}

/// <summary>
/// A push body written as its batches come (chunked: its length is not known before): the Arrow
/// stream's end-of-stream marker is written only after the last batch, so a body cut by a failing
/// source is never a whole stream to the node.
/// </summary>
internal sealed class BatchStreamContent(IAsyncEnumerator<RecordBatch> source, IProgress<long>? bytesSent) : HttpContent
{
    /// <summary>The source's exception, when the source (not the transport) cut the upload.</summary>
    public ExceptionDispatchInfo? SourceFailure { get; private set; }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var counted = new CountingWriteStream(stream, bytesSent);
        using var writer = new ArrowStreamWriter(counted, source.Current.Schema, leaveOpen: true);
        PhaseTrace.Mark("upload body started");
        bool more;
        do
        {
            // The source converts (and checks) the next batch on another thread while this one is
            // written out and encrypted: conversion and upload overlap instead of taking turns.
            var batch = source.Current;
            var next = Task.Run(NextAsync, CancellationToken.None);
            try
            {
                await writer.WriteRecordBatchAsync(batch, cancellationToken).ConfigureAwait(false);
                if (PhaseTrace.Enabled)
                {
                    PhaseTrace.Mark($"batch of {batch.Length:N0} rows sent");
                }
            }
            catch
            {
                // The source must be idle before the caller disposes it.
                await next.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
                throw;
            }

            more = await next.ConfigureAwait(false);
        }
        while (more);

        await writer.WriteEndAsync(cancellationToken).ConfigureAwait(false);
        await counted.FlushAsync(cancellationToken).ConfigureAwait(false);
        PhaseTrace.Mark("upload body sent");
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    private async Task<bool> NextAsync()
    {
        try
        {
            return await source.MoveNextAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            SourceFailure = ExceptionDispatchInfo.Capture(ex);
            throw;
        }
    }
}

/// <summary>Passes writes through to a stream, reporting the bytes that went by.</summary>
internal sealed class CountingWriteStream(Stream inner, IProgress<long>? progress) : Stream
{
    private long _count;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _count;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        inner.Write(buffer, offset, count);
        Count(count);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        Count(buffer.Length);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void Count(int written)
    {
        _count += written;
        progress?.Report(_count);
    }
}

/// <summary>Passes a stream through, reporting the bytes that went by.</summary>
internal sealed class CountingStream(Stream inner, IProgress<long>? progress) : Stream
{
    private long _count;

    public override bool CanRead => inner.CanRead;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => inner.Length;

    public override long Position
    {
        get => inner.Position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    private int Count(int read)
    {
        _count += read;
        progress?.Report(_count);
        return read;
    }
}
