using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace GovShare.Node.Hosting;

/// <summary>
/// The memory of the exchange listener's TLS layer, in blocks of one full TLS record (16 KiB).
/// Kestrel's HTTPS middleware builds the connection's decrypted pipes (SslDuplexPipe) from the
/// connection's <see cref="IMemoryPoolFeature"/>, and its pipe writer hands each pool block to
/// SslStream as one write: with Kestrel's own 4 KiB blocks a large pull left as 4 KiB records,
/// paying SslStream's record path, libssl's per-record work and a pool round trip four times per
/// 16 KiB (a fifth of the node's CPU on the large pull; profile-pull-large.txt). The socket below
/// keeps Kestrel's pinned pool: these blocks never reach a socket, SslStream encrypts them into
/// its own buffer, so they need no pinning.
/// </summary>
internal sealed class TlsRecordPool : MemoryPool<byte>
{
    /// <summary>The largest plaintext a TLS record carries (RFC 8446 5.1, RFC 5246 6.2.1: 2^14 bytes).</summary>
    public const int BlockSize = 16 * 1024;

    private readonly ConcurrentQueue<Block> _free = new();
    private readonly int _keep;
    private int _freeCount;

    /// <param name="keep">
    /// How many returned blocks are kept for reuse; more are left to the GC, so a burst of pulls
    /// does not hold its blocks for the life of the process (the node's working-set limit).
    /// </param>
    public TlsRecordPool(int keep)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(keep);
        _keep = keep;
    }

    public override int MaxBufferSize => BlockSize;

    /// <summary>Blocks waiting to be rented again (for tests).</summary>
    internal int Kept => Volatile.Read(ref _freeCount);

    /// <summary>A connection middleware giving the connection's later layers (TLS, HTTP) this pool.</summary>
    public Func<ConnectionDelegate, ConnectionDelegate> Middleware
    {
        get
        {
            var feature = new PoolFeature(this);
            return next => connection =>
            {
                connection.Features.Set<IMemoryPoolFeature>(feature);
                return next(connection);
            };
        }
    }

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        if (_free.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref _freeCount);
        }
        else
        {
            block = new Block(this);
        }

        block.Rented = 1;
        return block;
    }

    protected override void Dispose(bool disposing) => _free.Clear();

    private void Return(Block block)
    {
        if (Interlocked.Increment(ref _freeCount) <= _keep)
        {
            _free.Enqueue(block);
        }
        else
        {
            Interlocked.Decrement(ref _freeCount);
        }
    }

    private sealed class PoolFeature(MemoryPool<byte> pool) : IMemoryPoolFeature
    {
        public MemoryPool<byte> MemoryPool => pool;
    }

    private sealed class Block(TlsRecordPool pool) : IMemoryOwner<byte>
    {
        private readonly byte[] _array = GC.AllocateUninitializedArray<byte>(BlockSize);

        public int Rented;

        public Memory<byte> Memory => _array;

        public void Dispose()
        {
            // Once only: a block queued twice would be rented by two connections at once, and one
            // caller's data could leave on another's connection.
            if (Interlocked.Exchange(ref Rented, 0) == 1)
            {
                pool.Return(this);
            }
        }
    }
}
