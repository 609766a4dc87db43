using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Threading.Channels;

namespace GovShare.Node.Exchange.Datasets;

/// <summary>
/// The stream a push's <c>ArrowStreamWriter</c> writes its segment file through. What the writer
/// hands it is copied into 1 MiB chunks; a second task hashes each full chunk into the segment's
/// blocks (<see cref="SegmentBlocks"/>) and writes it to the file at its offset. So the request's
/// task goes on reading and validating the next batch while the previous one is hashed and
/// written: on the node's two cores the push uses both (benchmarks/README.md, Push).
/// </summary>
/// <remarks>
/// <para>Bounded: at most <see cref="ChunksInFlight"/> chunks exist per push (one being filled,
/// the rest queued or being written); a writer faster than the disk waits for a free one, so a
/// push holds at most 4 MiB here whatever its size. The chunks are this push's own arrays, never
/// pooled with other exchanges.</para>
/// <para>Every byte is hashed once, into its block. The file's own SHA-256 is no longer
/// computed (<see cref="DatasetSegment.Sha256"/> is null for segments with blocks): it hashed the
/// same bytes a second time, and nothing read it — a read verifies the blocks, which cover every
/// byte of the file, and checks a file's SHA-256 only for segments stored without blocks.</para>
/// <para>Every write copies its bytes before it returns, so a batch written through
/// <see cref="DatasetPush.WriteAsync"/> is no longer referenced when that returns: the push
/// reader reuses its bodies (<c>ExchangeApi</c>). Keep it so.</para>
/// <para>A failure of the background write (a full disk) is thrown by the next
/// <see cref="Write(ReadOnlySpan{byte})"/> or by <see cref="FinishAsync"/>, so the push fails
/// and nothing is published.</para>
/// </remarks>
internal sealed class SegmentFileWriter : Stream
{
    /// <summary>Bytes a chunk holds: the size of the file writes (the raw-upload baseline writes the same).</summary>
    public const int ChunkBytes = 1 << 20;

    /// <summary>Chunks per push: one being filled while up to three wait for, or are in, the background write.</summary>
    public const int ChunksInFlight = 4;

    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _file;
    private readonly int _blockBytes;
    private readonly Channel<Chunk> _full = Channel.CreateBounded<Chunk>(new BoundedChannelOptions(ChunksInFlight) { SingleReader = true, SingleWriter = true });
    private readonly Channel<byte[]> _free = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly IncrementalHash _block = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly SegmentBlocks.Builder _blocks = new();
    private readonly Task _background;
    private int _allocated;
    private byte[]? _current;
    private int _filled;
    private List<long>? _blockEnds;
    private long _position;
    private long _blockStart;
    private volatile ExceptionDispatchInfo? _failure;
    private bool _finished;
    private volatile bool _abandoned;
    private bool _disposed;

    /// <param name="file">The segment's temporary file, opened for writing (unbuffered: the chunks are the buffer).</param>
    /// <param name="blockBytes">A block ends at the first batch end at least this many bytes after its start.</param>
    public SegmentFileWriter(FileStream file, int blockBytes)
    {
        ArgumentNullException.ThrowIfNull(file);
        _file = file.SafeFileHandle;
        _blockBytes = blockBytes;
        _background = Task.Run(WriteChunksAsync);
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>A record batch's message was written in full: its end may end a block.</summary>
    public void BatchWritten()
    {
        if (_position - _blockStart >= _blockBytes)
        {
            EndBlockHere();
        }
    }

    /// <summary>
    /// Ends the last block at the file's end, waits until every chunk is hashed and written, and
    /// returns the block list (<see cref="SegmentBlocks"/>). Not durable yet: the caller fsyncs the file.
    /// </summary>
    public async Task<string> FinishAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        _failure?.Throw();
        if (_position > _blockStart)
        {
            EndBlockHere();
        }

        _finished = true;
        await SendCurrentAsync(cancellationToken).ConfigureAwait(false);
        _full.Writer.TryComplete();
        await _background.ConfigureAwait(false);
        _failure?.Throw();
        return _blocks.ToBase64();
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        // The Arrow writer writes synchronously only for small pieces; a full chunk waits for the
        // background writer here (rare: it hands its bodies to WriteAsync).
        while (!buffer.IsEmpty)
        {
            var taken = Fill(buffer);
            buffer = buffer[taken..];
            if (_filled == ChunkBytes)
            {
                SendCurrentAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
            }
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            var taken = Fill(buffer.Span);
            buffer = buffer[taken..];
            if (_filled == ChunkBytes)
            {
                await SendCurrentAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            _disposed = true;
            // Finished, or abandoned (a refused or broken-off push): the background writer stops
            // after what was queued; the caller deletes an abandoned file.
            _abandoned = !_finished;
            _finished = true;
            _full.Writer.TryComplete();
            _background.GetAwaiter().GetResult();
            _block.Dispose();
        }

        base.Dispose(disposing);
    }

    private int Fill(ReadOnlySpan<byte> data)
    {
        _failure?.Throw();
        ObjectDisposedException.ThrowIf(_finished, this);
        _current ??= TakeFreeChunk();
        var taken = Math.Min(data.Length, ChunkBytes - _filled);
        data[..taken].CopyTo(_current.AsSpan(_filled));
        _filled += taken;
        _position += taken;
        return taken;
    }

    // SendCurrentAsync takes the next chunk, so only the first write of a push gets here.
    private byte[] TakeFreeChunk() =>
        _free.Reader.TryRead(out var chunk) ? chunk
        : _allocated < ChunksInFlight ? Allocate()
        : _free.Reader.ReadAsync().AsTask().GetAwaiter().GetResult();

    private void EndBlockHere()
    {
        (_blockEnds ??= []).Add(_position);
        _blockStart = _position;
    }

    private async ValueTask SendCurrentAsync(CancellationToken cancellationToken)
    {
        if (_filled == 0 && _blockEnds is null)
        {
            return;
        }

        // Without bytes (the file's last block ends where a chunk ended) the chunk carries only its block end.
        var chunk = new Chunk(_filled == 0 ? null : _current, _filled, _position - _filled, _blockEnds);
        if (_filled > 0)
        {
            _current = null;
        }

        _filled = 0;
        _blockEnds = null;
        try
        {
            await _full.Writer.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
            // Take the next chunk now, waiting for the background writer to free one if all are
            // in flight, so the bytes that follow are copied without blocking.
            if (_current is null && !_finished)
            {
                _current = _free.Reader.TryRead(out var free) ? free
                    : _allocated < ChunksInFlight ? Allocate()
                    : await _free.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (ChannelClosedException)
        {
            // The background writer stopped on a failure: that is the error to report.
            _failure?.Throw();
            throw;
        }
    }

    private byte[] Allocate()
    {
        _allocated++;
        return GC.AllocateUninitializedArray<byte>(ChunkBytes);
    }

    private async Task WriteChunksAsync()
    {
        try
        {
            await foreach (var chunk in _full.Reader.ReadAllAsync().ConfigureAwait(false))
            {
                if (_abandoned)
                {
                    continue;
                }

                HashAndWrite(chunk);
            }
        }
        catch (Exception ex)
        {
            _failure = ExceptionDispatchInfo.Capture(ex);
            _full.Writer.TryComplete(ex);
            // Unblock a writer waiting for a free chunk; its next Fill throws the failure.
            _free.Writer.TryComplete(ex);
        }
    }

    private void HashAndWrite(Chunk chunk)
    {
        var bytes = chunk.Buffer.AsSpan(0, chunk.Length);
        var hashed = 0;
        Span<byte> sha256 = stackalloc byte[SegmentBlocks.HashBytes];
        foreach (var end in chunk.BlockEnds ?? [])
        {
            var cut = (int)(end - chunk.Offset);
            _block.AppendData(bytes[hashed..cut]);
            _block.GetHashAndReset(sha256);
            _blocks.Add(end, sha256);
            hashed = cut;
        }

        _block.AppendData(bytes[hashed..]);
        // A synchronous pwrite at the chunk's offset: this task exists to do it, and on Linux an
        // "async" file write is the same call on another pool thread.
        RandomAccess.Write(_file, bytes, chunk.Offset);
        if (chunk.Buffer is { } buffer)
        {
            _free.Writer.TryWrite(buffer);
        }
    }

    /// <param name="Buffer">The chunk's array (null when it carries only a block end), this push's own.</param>
    /// <param name="Length">Bytes of <paramref name="Buffer"/> to write.</param>
    /// <param name="Offset">Where in the file they go.</param>
    /// <param name="BlockEnds">File offsets inside or at the end of this chunk where a block ends, in order.</param>
    private sealed record Chunk(byte[]? Buffer, int Length, long Offset, List<long>? BlockEnds);
}
