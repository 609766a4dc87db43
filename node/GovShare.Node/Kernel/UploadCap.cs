using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace GovShare.Node.Kernel;

/// <summary>
/// An upload (a push, a comparison's rows, or a body forwarded to another node) read through a size cap of the node's own, instead of Kestrel's
/// <c>MaxRequestBodySize</c>. Passing Kestrel's limit leaves the request body in error, so the
/// connection is closed with the rest of the upload unread — the client's TCP stack then sees a
/// reset while still sending and reports a broken pipe, never the 413. Refused here, the body is
/// still readable: Kestrel drains what follows for a few seconds after the answer (its
/// request-drain timeout) before it closes, and the department reads why its upload was refused.
/// </summary>
/// <remarks>
/// <see cref="TakeGathered"/> reads the body from Kestrel's <see cref="PipeReader"/> instead, and
/// answers a read only once it can fill it or a given amount, whichever is less. Kestrel's TLS
/// layer hands the body on in pieces of one memory-pool block (16 KiB on the exchange listener,
/// <c>Hosting/TlsRecordPool</c>; Kestrel's own are 4 KiB), and through <c>Request.Body</c> each
/// piece is one trip through every stream stacked above it (a push: the Arrow reader, the framing
/// guard, this cap), 16,000 trips for 261 MB (64,000 in 4 KiB blocks). Gathered, the bytes wait
/// in the pipe, as the raw-upload baseline's do (benchmarks/README.md, Push). It never waits for
/// more than the reader asked for, so a reader that asks only for bytes the sender owes (the
/// framing guard) waits no longer than before; a stalled sender is cut by Kestrel's minimum data
/// rate as before.
/// </remarks>
internal sealed class UploadCap : Stream
{
    private readonly Stream? _inner;
    private readonly PipeReader? _pipe;
    private readonly int _gather;
    private readonly long _maxBytes;
    private readonly string _detail;
    private long _read;

    public UploadCap(Stream inner, long maxBytes, string detail)
    {
        _inner = inner;
        _maxBytes = maxBytes;
        _detail = detail;
    }

    private UploadCap(PipeReader pipe, int gatherBytes, long maxBytes, string detail)
    {
        _pipe = pipe;
        _gather = gatherBytes;
        _maxBytes = maxBytes;
        _detail = detail;
    }

    /// <summary>
    /// The request's body under the node's cap, with Kestrel's own limit lifted for this request.
    /// Call before the first read of the body (Kestrel fixes its limit then).
    /// </summary>
    public static UploadCap Take(HttpContext context, long maxBytes, string detail)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }

        return new UploadCap(context.Request.Body, maxBytes, detail);
    }

    /// <summary>
    /// As <see cref="Take"/>, reading Kestrel's pipe: a read returns once <paramref name="gatherBytes"/>
    /// bytes, or as many as it asked for, are there (or the body ended). Asynchronous reads only.
    /// </summary>
    public static UploadCap TakeGathered(HttpContext context, long maxBytes, string detail, int gatherBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(gatherBytes);
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = null;
        }

        return new UploadCap(context.Request.BodyReader, gatherBytes, maxBytes, detail);
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => _read; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Count(Inner.Read(buffer, offset, count));

    public override int Read(Span<byte> buffer) => Count(Inner.Read(buffer));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(_pipe is null
            ? await _inner!.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)
            : await ReadGatheredAsync(_pipe, buffer, cancellationToken).ConfigureAwait(false));

    // Synchronous reads go to the request body as before (Kestrel refuses them unless allowed); the gathered cap has none.
    private Stream Inner => _inner ?? throw new NotSupportedException("A gathered upload is read asynchronously.");

    private async ValueTask<int> ReadGatheredAsync(PipeReader pipe, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        var wanted = Math.Min(buffer.Length, _gather);
        var cancelled = 0;
        while (true)
        {
            var result = await pipe.ReadAsync(cancellationToken).ConfigureAwait(false);
            var available = result.Buffer;
            // Nothing here cancels the body's reads; Kestrel does, once, when it stops taking new
            // requests on the connection (a graceful shutdown: StopProcessingNextRequest). It
            // swallows that cancel while its buffer is empty, but not while bytes wait in it
            // examined and not taken, as they do here while gathering. That push must still finish
            // (the drain), so a cancelled read hands over what is there, or reads again if nothing
            // is; only a cancel that keeps coming ends the upload.
            if (result.IsCanceled && available.IsEmpty)
            {
                pipe.AdvanceTo(available.Start);
                if (++cancelled > 8)
                {
                    throw new OperationCanceledException("The read of the upload was cancelled.");
                }

                continue;
            }

            if (available.Length < wanted && !result.IsCompleted && !result.IsCanceled)
            {
                // Nothing taken, all of it looked at: the next read returns when more has come.
                pipe.AdvanceTo(available.Start, available.End);
                continue;
            }

            var n = (int)Math.Min(buffer.Length, available.Length);
            available.Slice(0, n).CopyTo(buffer.Span);
            pipe.AdvanceTo(available.GetPosition(n));
            return n;
        }
    }

    private int Count(int read)
    {
        _read += read;
        if (_read > _maxBytes)
        {
            throw new BadHttpRequestException(_detail, StatusCodes.Status413PayloadTooLarge);
        }

        return read;
    }

    /// <summary>Whether <paramref name="body"/> is this cap's refusal (413), not a slow or broken-off upload.</summary>
    public static bool IsOverCap(BadHttpRequestException body) => body.StatusCode == StatusCodes.Status413PayloadTooLarge;

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
