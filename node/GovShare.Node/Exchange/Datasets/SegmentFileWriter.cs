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
/// <para>Only <see cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/> waits for the
/// disk. The push writes through the Arrow writer's asynchronous methods, which (Apache.Arrow as
/// shipped) hand every piece to WriteAsync: a test keeps that true. The synchronous
/// <see cref="Write(ReadOnlySpan{byte})"/> never blocks its thread on the disk all the same: when it
/// fills a chunk and none is free, it borrows one beyond the bound, and the next asynchronous
/// write waits until the push is back within it (dropping the borrowed chunk). So a slow disk
/// never holds a pool thread here, and the bound is exceeded only by what is written synchronously
/// between two asynchronous writes (a message header that straddles a chunk's end would borrow
/// one). A caller that wrote whole bodies synchronously would borrow without end; past
/// <see cref="MaxBorrowed"/> chunks that is refused (<see cref="InvalidOperationException"/>),
/// a programming error, not a disk's.</para>
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

    /// <summary>Chunks a push may borrow beyond <see cref="ChunksInFlight"/> in synchronous writes before it is refused.</summary>
    public const int MaxBorrowed = ChunksInFlight;

    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _file;
    private readonly ChunkWrite _write;
    private readonly int _blockBytes;
    // Unbounded as a queue, bounded by the chunks: only ChunksInFlight (plus what synchronous
    // writes borrowed) exist, so enqueuing a full chunk never waits.
    private readonly Channel<Chunk> _full = Channel.CreateUnbounded<Chunk>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly Channel<byte[]> _free = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly IncrementalHash _block = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly SegmentBlocks.Builder _blocks = new();
    private readonly Task _background;
    // Chunks of this push in circulation (filled, queued, being written or free); request side only.
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
        : this(file, blockBytes, RandomAccess.Write)
    {
    }

    /// <param name="file">As above.</param>
    /// <param name="blockBytes">As above.</param>
    /// <param name="write">How a chunk reaches the file: <see cref="RandomAccess.Write(Microsoft.Win32.SafeHandles.SafeFileHandle, ReadOnlySpan{byte}, long)"/>; a test stalls it as a slow disk would.</param>
    internal SegmentFileWriter(FileStream file, int blockBytes, ChunkWrite write)
    {
        ArgumentNullException.ThrowIfNull(file);
        _file = file.SafeFileHandle;
        _write = write;
        _blockBytes = blockBytes;
        _background = Task.Run(WriteChunksAsync);
    }

    /// <summary>Writes a chunk's bytes at its offset in the file, synchronously (the background task's own work).</summary>
    internal delegate void ChunkWrite(Microsoft.Win32.SafeHandles.SafeFileHandle file, ReadOnlySpan<byte> bytes, long offset);

    /// <summary>Chunks of this push in circulation: <see cref="ChunksInFlight"/>, more only while synchronous writes have borrowed.</summary>
    internal int Chunks => _allocated;

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
        SendCurrent();
        _full.Writer.TryComplete();
        // Cancelled, the background writer goes on with what is queued; the push's disposal waits for it.
        await _background.WaitAsync(cancellationToken).ConfigureAwait(false);
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
        // Never waits for the disk: a full chunk is queued, and when no chunk is free the next is
        // borrowed beyond the bound (see the remarks). The push itself writes only asynchronously.
        while (!buffer.IsEmpty)
        {
            _current ??= TakeChunkWithoutWaiting();
            var taken = Fill(buffer);
            buffer = buffer[taken..];
            if (_filled == ChunkBytes)
            {
                SendCurrent();
            }
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            // Waits here, and only here, for the background writer to free a chunk.
            _current ??= await TakeChunkAsync(cancellationToken).ConfigureAwait(false);
            var taken = Fill(buffer.Span);
            buffer = buffer[taken..];
            if (_filled == ChunkBytes)
            {
                SendCurrent();
                // Take the next chunk now (waiting if all are in flight): a chunk borrowed by a
                // synchronous write is paid back here, and a synchronous piece that follows finds one.
                _current = await TakeChunkAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !_disposed)
        {
            Stop();
            // Synchronous disposal waits for the pwrite in progress (at most one chunk); a push
            // disposes with DisposeAsync, which does not hold its thread for it.
            _background.GetAwaiter().GetResult();
            _block.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        if (!_disposed)
        {
            Stop();
            await _background.ConfigureAwait(false);
            _block.Dispose();
        }

        // Stream's own: calls Dispose(), which finds this writer disposed and does not wait again.
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private void Stop()
    {
        _disposed = true;
        // Finished, or abandoned (a refused or broken-off push): the background writer stops
        // after the chunk it is writing and drops the rest; the caller deletes an abandoned file.
        _abandoned = !_finished;
        _finished = true;
        _full.Writer.TryComplete();
    }

    private int Fill(ReadOnlySpan<byte> data)
    {
        ThrowIfStopped();
        var taken = Math.Min(data.Length, ChunkBytes - _filled);
        data[..taken].CopyTo(_current.AsSpan(_filled));
        _filled += taken;
        _position += taken;
        return taken;
    }

    /// <summary>A free chunk, a new one within the bound, or else one borrowed beyond it.</summary>
    private byte[] TakeChunkWithoutWaiting()
    {
        ThrowIfStopped();
        if (_free.Reader.TryRead(out var chunk))
        {
            return chunk;
        }

        if (_allocated >= ChunksInFlight + MaxBorrowed)
        {
            throw new InvalidOperationException(
                $"More than {MaxBorrowed} MiB written synchronously while the disk was behind: a segment's bodies must be written with WriteAsync.");
        }

        return Allocate();
    }

    /// <summary>
    /// A chunk within the bound: first drops borrowed chunks as the background writer frees them,
    /// then takes a free one, a new one while fewer than <see cref="ChunksInFlight"/> exist, or
    /// waits for one.
    /// </summary>
    private async ValueTask<byte[]> TakeChunkAsync(CancellationToken cancellationToken)
    {
        ThrowIfStopped();
        try
        {
            while (_allocated > ChunksInFlight)
            {
                // Left to the GC: the push is back within its bound once it is gone.
                _ = await _free.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                _allocated--;
            }

            return _free.Reader.TryRead(out var free) ? free
                : _allocated < ChunksInFlight ? Allocate()
                : await _free.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            // The background writer stopped on a failure: that is the error to report.
            _failure?.Throw();
            throw;
        }
    }

    private void ThrowIfStopped()
    {
        _failure?.Throw();
        ObjectDisposedException.ThrowIf(_finished, this);
    }

    private void EndBlockHere()
    {
        (_blockEnds ??= []).Add(_position);
        _blockStart = _position;
    }

    /// <summary>Queues the chunk being filled (and the block ends in it) for the background writer; never waits.</summary>
    private void SendCurrent()
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
        if (!_full.Writer.TryWrite(chunk))
        {
            // Completed: the background writer stopped on a failure, which is the error to report.
            _failure?.Throw();
            throw new ObjectDisposedException(nameof(SegmentFileWriter));
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
        _write(_file, bytes, chunk.Offset);
        WriteBack.Start(_file, chunk.Offset, chunk.Length);
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

/// <summary>
/// Starts the kernel writing a range of a file to disk now, without waiting for it
/// (<c>sync_file_range(SYNC_FILE_RANGE_WRITE)</c>, Linux). A push's segment is written in a second
/// or less, well before Linux's own writeback would start (dirty pages wait up to
/// <c>dirty_expire_centisecs</c>, 30 s), so the fsync at its commit used to write the whole file
/// while the department waited for the answer. Started per chunk as the push arrives, that
/// writing overlaps the upload, and the commit's fsync waits only for what is still in flight:
/// 18 MB written in 1 MiB pieces at an upload's pace on the shared development machine (load
/// about 60), fsync 60–276 ms (median 186) without the hint, 14–106 ms (median 38) with it,
/// alternating (adapters/README.md, Timings). Only a hint: the fsync at the commit is what makes
/// the segment durable, unchanged. Public so that the load benchmark's raw-upload baseline makes
/// the same call: a baseline must do whatever the node does to put bytes on disk.
/// </summary>
public static partial class WriteBack
{
    private const uint SyncFileRangeWrite = 2;

    public static void Start(Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, long length)
    {
        if (OperatingSystem.IsLinux() && length > 0)
        {
            // A failure (a file system without it) only loses the head start: the commit's fsync decides.
            _ = SyncFileRange(file, offset, length, SyncFileRangeWrite);
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    private static partial int SyncFileRange(Microsoft.Win32.SafeHandles.SafeFileHandle fd, long offset, long nbytes, uint flags);
}
