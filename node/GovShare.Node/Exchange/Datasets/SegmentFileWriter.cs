using System.Runtime.ExceptionServices;
using System.Security.Cryptography;

namespace GovShare.Node.Exchange.Datasets;

/// <summary>
/// The stream a push's <c>ArrowStreamWriter</c> writes its segment file through. Every byte is
/// hashed into its block (<see cref="SegmentBlocks"/>) as it is handed over, and the bytes go to
/// the file in large sequential writes at their offsets, each handed to the kernel's writeback at
/// once (<see cref="WriteBack"/>) — on the caller's own thread: no second task, no queue.
/// </summary>
/// <remarks>
/// <para>Why on the caller's thread: until fix/push7 a background task hashed and wrote 1 MiB
/// chunks while the request's task read the next batch, so a push kept three threads busy (Kestrel's
/// socket loop, the request's task, this writer's) on a machine of two cores. The profile showed
/// the node paying more for the hand-offs between them (waking, the thread pool's spinning) than
/// the parallelism gained: 2.2 against the raw-upload baseline's 0.6 ns/B
/// (benchmarks/results/profile-push.txt). A write to the page cache is a copy, not a wait for the
/// disk (the writeback hint overlaps the disk with the upload), and the raw-upload baseline makes
/// the same synchronous pwrite on a pool thread (on Linux that is what <c>RandomAccess.WriteAsync</c> does).</para>
/// <para>Large pieces (a batch's column buffers) are written straight from the caller's memory,
/// together with whatever smaller pieces (message headers, padding) wait in the chunk before them,
/// in one gathered write (pwritev): no copy into the chunk. Small pieces are copied into the
/// chunk, which is written once full. So every write but the last is at least
/// <see cref="ChunkBytes"/>, and a push holds one chunk, this push's own array, never pooled.</para>
/// <para>Every write has hashed and written, or copied, its bytes before it returns, so a batch
/// written through <see cref="DatasetPush.WriteAsync"/> is no longer referenced when that returns:
/// the push reader reuses its bodies (<c>ExchangeApi</c>). Keep it so.</para>
/// <para>Every byte is hashed once, into its block. The file's own SHA-256 is not computed
/// (<see cref="DatasetSegment.Sha256"/> is null for segments with blocks): a read verifies the
/// blocks, which cover every byte of the file.</para>
/// <para>A failed write (a full disk) is thrown by that write, and the writer refuses every later
/// one, so the push fails and nothing is published.</para>
/// </remarks>
internal sealed class SegmentFileWriter : Stream
{
    /// <summary>The least a write to the file carries (but the last): the raw-upload baseline writes 1 MiB too.</summary>
    public const int ChunkBytes = 1 << 20;

    /// <summary>A piece at least this long that does not fit the chunk is written from the caller's memory, not copied.</summary>
    public const int DirectBytes = 64 * 1024;

    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _file;
    private readonly ChunkWrite _write;
    private readonly int _blockBytes;
    private readonly IncrementalHash _block = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly SegmentBlocks.Builder _blocks = new();
    // The pieces of one write: the chunk, a direct piece, or both (reused: no array per write).
    private readonly ReadOnlyMemory<byte>[] _one = new ReadOnlyMemory<byte>[1];
    private readonly ReadOnlyMemory<byte>[] _two = new ReadOnlyMemory<byte>[2];
    private byte[]? _chunk;
    private int _filled;
    // Bytes handed over (and hashed), and bytes written to the file (where the chunk's bytes go).
    private long _position;
    private long _fileOffset;
    private long _blockStart;
    private ExceptionDispatchInfo? _failure;
    private bool _finished;

    /// <param name="file">The segment's temporary file, opened for writing (unbuffered: the chunk is the buffer).</param>
    /// <param name="blockBytes">A block ends at the first batch end at least this many bytes after its start.</param>
    public SegmentFileWriter(FileStream file, int blockBytes)
        : this(file, blockBytes, RandomAccess.Write)
    {
    }

    /// <param name="file">As above.</param>
    /// <param name="blockBytes">As above.</param>
    /// <param name="write">How bytes reach the file: <see cref="RandomAccess.Write(Microsoft.Win32.SafeHandles.SafeFileHandle, IReadOnlyList{ReadOnlyMemory{byte}}, long)"/>; a test records the writes or fails them as a full disk would.</param>
    internal SegmentFileWriter(FileStream file, int blockBytes, ChunkWrite write)
    {
        ArgumentNullException.ThrowIfNull(file);
        _file = file.SafeFileHandle;
        _write = write;
        _blockBytes = blockBytes;
    }

    /// <summary>Writes the pieces, in order, at the offset in the file, synchronously (one gathered write).</summary>
    internal delegate void ChunkWrite(Microsoft.Win32.SafeHandles.SafeFileHandle file, IReadOnlyList<ReadOnlyMemory<byte>> pieces, long offset);

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
    /// Ends the last block at the file's end, writes what waits in the chunk, and returns the block
    /// list (<see cref="SegmentBlocks"/>). Not durable yet: the caller fsyncs the file.
    /// </summary>
    public Task<string> FinishAsync(CancellationToken cancellationToken)
    {
        ThrowIfStopped();
        cancellationToken.ThrowIfCancellationRequested();
        if (_position > _blockStart)
        {
            EndBlockHere();
        }

        WriteOut(ReadOnlyMemory<byte>.Empty);
        _finished = true;
        _chunk = null;
        return Task.FromResult(_blocks.ToBase64());
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
        ThrowIfStopped();
        _block.AppendData(buffer);
        _position += buffer.Length;
        // A span cannot be written later from the caller's memory: copied, the chunk written as it fills.
        while (!buffer.IsEmpty)
        {
            var taken = Fill(buffer);
            buffer = buffer[taken..];
            if (_filled == ChunkBytes)
            {
                WriteOut(ReadOnlyMemory<byte>.Empty);
            }
        }
    }

    /// <summary>Completes before it returns (a write to the page cache is a copy, see the remarks); a failed write throws from here.</summary>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Put(buffer);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // Finished, or abandoned (a refused or broken-off push: what waits in the chunk is
            // dropped, and the caller deletes the file). Nothing is in flight either way.
            _finished = true;
            _chunk = null;
            _block.Dispose();
        }

        base.Dispose(disposing);
    }

    private void Put(ReadOnlyMemory<byte> buffer)
    {
        ThrowIfStopped();
        _block.AppendData(buffer.Span);
        _position += buffer.Length;
        if (_filled + buffer.Length <= ChunkBytes)
        {
            Fill(buffer.Span);
            if (_filled == ChunkBytes)
            {
                WriteOut(ReadOnlyMemory<byte>.Empty);
            }

            return;
        }

        if (buffer.Length >= DirectBytes)
        {
            // The chunk so far and this piece in one write, straight from the caller's memory.
            WriteOut(buffer);
            return;
        }

        // A small piece across the chunk's end: fill, write the full chunk, keep the rest.
        var taken = Fill(buffer.Span);
        WriteOut(ReadOnlyMemory<byte>.Empty);
        Fill(buffer.Span[taken..]);
    }

    private int Fill(ReadOnlySpan<byte> data)
    {
        _chunk ??= GC.AllocateUninitializedArray<byte>(ChunkBytes);
        var taken = Math.Min(data.Length, ChunkBytes - _filled);
        data[..taken].CopyTo(_chunk.AsSpan(_filled));
        _filled += taken;
        return taken;
    }

    /// <summary>Writes what waits in the chunk, then <paramref name="direct"/>, at their offset, and starts their writeback.</summary>
    private void WriteOut(ReadOnlyMemory<byte> direct)
    {
        var length = _filled + direct.Length;
        if (length == 0)
        {
            return;
        }

        var offset = _fileOffset;
        ReadOnlyMemory<byte>[] pieces;
        if (_filled == 0 || direct.IsEmpty)
        {
            pieces = _one;
            pieces[0] = _filled == 0 ? direct : _chunk.AsMemory(0, _filled);
        }
        else
        {
            pieces = _two;
            pieces[0] = _chunk.AsMemory(0, _filled);
            pieces[1] = direct;
        }

        try
        {
            _write(_file, pieces, offset);
        }
        catch (Exception ex)
        {
            // The file now holds an unknown part of these bytes: nothing more may be written.
            _failure = ExceptionDispatchInfo.Capture(ex);
            throw;
        }
        finally
        {
            // The caller's memory is not kept past this write.
            Array.Clear(pieces);
        }

        _filled = 0;
        _fileOffset += length;
        WriteBack.Start(_file, offset, length);
    }

    private void ThrowIfStopped()
    {
        // The file holds an unknown part of a failed write: the same failure again, nothing more written.
        _failure?.Throw();
        ObjectDisposedException.ThrowIf(_finished, this);
    }

    private void EndBlockHere()
    {
        Span<byte> sha256 = stackalloc byte[SegmentBlocks.HashBytes];
        _block.GetHashAndReset(sha256);
        _blocks.Add(_position, sha256);
        _blockStart = _position;
    }
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
/// alternating (benchmarks/results/adapters-history.md, fix/pgpush6). Only a hint: the fsync at the commit is what makes
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
