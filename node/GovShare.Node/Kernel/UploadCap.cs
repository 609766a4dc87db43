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
internal sealed class UploadCap(Stream inner, long maxBytes, string detail) : Stream
{
    private long _read;

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

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => _read; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override int Read(Span<byte> buffer) => Count(inner.Read(buffer));

    public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Count(await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken).ConfigureAwait(false));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    private int Count(int read)
    {
        _read += read;
        if (_read > maxBytes)
        {
            throw new BadHttpRequestException(detail, StatusCodes.Status413PayloadTooLarge);
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
