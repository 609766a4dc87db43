using System.Net;

namespace GovShare.LoadBenchmark.Driver;

/// <summary>A push body generated while it is sent (chunked), so a 1 GB+ set-up push needs no file.</summary>
internal sealed class GeneratedContent : HttpContent
{
    private readonly long _rows;
    private readonly int _batchRows;
    private readonly Action<long> _progress;

    public GeneratedContent(long rows, int batchRows, Action<long> progress)
    {
        _rows = rows;
        _batchRows = batchRows;
        _progress = progress;
        Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(Population.ArrowMediaType);
    }

    public long Sent { get; private set; }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
    {
        var counting = new CountingStream(stream, sent =>
        {
            Sent = sent;
            _progress(sent);
        });
        await Population.WriteStreamAsync(counting, _rows, _batchRows);
        await counting.FlushAsync();
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    private sealed class CountingStream(Stream inner, Action<long> written) : Stream
    {
        private long _written;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _written; set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            Advance(count);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken);
            Advance(buffer.Length);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private void Advance(int count)
        {
            _written += count;
            written(_written);
        }
    }
}
