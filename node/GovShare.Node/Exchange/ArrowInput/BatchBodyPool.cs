namespace GovShare.Node.Exchange.ArrowInput;

/// <summary>
/// The bodies of stored batches that pulls have finished with, kept for the next batch of any
/// pull of this node. A large pull holds a few bodies at a time (being read, waiting for its
/// block's hash, queued, being written), each the size of one stored batch (about 8 MB for
/// 65,536 rows of a wide resource). Kept per pull, they became large-object garbage at each
/// pull's end and sat beside the next pull's until a full collection: the node's peak working
/// set carried two pulls' bodies. Shared, the next pull (or a concurrent one) takes them over.
/// </summary>
/// <remarks>
/// Only for readers whose caller never touches a batch, nor an array of it, after disposing it
/// (<see cref="SafeArrowReader"/> with <c>recycleBodies</c>: a pull, which disposes each batch
/// once written). A body taken from here is filled whole by the reader before any batch is
/// built on it (the reader reads exactly the declared length, or fails), so no byte of an
/// earlier exchange is ever part of a batch. Bounded: at most <see cref="MaxArrays"/> arrays and
/// <see cref="MaxBytes"/> bytes are kept, the oldest dropped first for the collector. A body of under
/// <see cref="MinBytes"/> is not kept (a young-generation array is cheaper than the lock), nor is
/// an array more than twice the size asked for handed out (a small resource's pull does not
/// hold a large one's arrays).
/// </remarks>
internal sealed class BatchBodyPool(long maxBytes, int maxArrays)
{
    /// <summary>Not worth keeping below this: a young-generation allocation, reclaimed at the next gen-0 collection.</summary>
    public const int MinBytes = 64 * 1024;

    /// <summary>The node's one pool: eight bodies of a 65,536-row batch of a wide resource.</summary>
    public static BatchBodyPool Shared { get; } = new(64L << 20, 16);

    private readonly List<byte[]> _free = [];
    private long _freeBytes;

    public long MaxBytes => maxBytes;

    public int MaxArrays => maxArrays;

    /// <summary>Bytes kept now (for tests and diagnostics).</summary>
    public long FreeBytes
    {
        get
        {
            lock (_free)
            {
                return _freeBytes;
            }
        }
    }

    /// <summary>The smallest kept array of at least <paramref name="length"/> bytes and at most twice that, or null.</summary>
    public byte[]? TryRent(int length)
    {
        if (length < MinBytes)
        {
            return null;
        }

        lock (_free)
        {
            var best = -1;
            for (var i = 0; i < _free.Count; i++)
            {
                var size = _free[i].Length;
                if (size >= length && size <= 2L * length && (best < 0 || size < _free[best].Length))
                {
                    best = i;
                }
            }

            if (best < 0)
            {
                return null;
            }

            var array = _free[best];
            _free.RemoveAt(best);
            _freeBytes -= array.Length;
            return array;
        }
    }

    /// <summary>Keeps <paramref name="array"/> for a later body, when it fits the bounds; the caller never touches it again.</summary>
    public void Return(byte[] array)
    {
        if (array.Length < MinBytes)
        {
            return;
        }

        if (array.Length > maxBytes)
        {
            return;
        }

        lock (_free)
        {
            // The oldest kept go first: a pull's own bodies always come back to it, even when
            // another resource's (of another size) filled the pool before.
            while (_free.Count >= maxArrays || _freeBytes + array.Length > maxBytes)
            {
                _freeBytes -= _free[0].Length;
                _free.RemoveAt(0);
            }

            _free.Add(array);
            _freeBytes += array.Length;
        }
    }
}
