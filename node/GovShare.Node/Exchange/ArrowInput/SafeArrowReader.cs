using System.Buffers;
using System.Runtime.CompilerServices;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Memory;

namespace GovShare.Node.Exchange.ArrowInput;

/// <summary>
/// The one way the node reads Arrow IPC input it did not produce in this process: a push body,
/// a stored dataset segment. Framing is checked before Apache.Arrow sees a message
/// (<see cref="ArrowFramingGuard"/>), every batch is validated before it is handed out
/// (<see cref="ArrowBatchValidator"/>), and every failure of either or of the reader becomes an
/// <see cref="ArrowInputException"/>. Reads batch by batch; at most one batch body is held.
/// </summary>
/// <remarks>
/// Each batch handed out is owned by the caller, who disposes it. A batch's buffers live in
/// managed arrays (fresh ones, or for a pull the node's <see cref="BatchBodyPool"/>), so a batch
/// that is never disposed is collected, never leaked.
/// </remarks>
public sealed class SafeArrowReader : IAsyncDisposable, IDisposable
{
    private readonly ArrowFramingGuard _guard;
    private readonly ArrowStreamReader _reader;
    private readonly ArrowInputLimits _limits;
    private bool _finished;

    private SafeArrowReader(ArrowFramingGuard guard, ArrowStreamReader reader, ArrowInputLimits limits, Schema schema)
    {
        _guard = guard;
        _reader = reader;
        _limits = limits;
        Schema = schema;
    }

    /// <summary>The validated schema of the stream.</summary>
    public Schema Schema { get; }

    /// <summary>Record batches handed out so far.</summary>
    public int BatchesRead { get; private set; }

    /// <summary>Rows handed out so far.</summary>
    public long RowsRead { get; private set; }

    /// <summary>Bytes taken from the source so far.</summary>
    public long BytesRead => _guard.BytesRead;

    /// <summary>
    /// Reads and validates the schema message. <paramref name="declaredLength"/> is the number of
    /// bytes the source can still carry (a request's Content-Length, a file's length), or null
    /// when unknown (chunked transfer): no message may declare more.
    /// </summary>
    /// <exception cref="ArrowInputException">The stream does not start with a valid, supported schema.</exception>
    public static Task<SafeArrowReader> OpenAsync(Stream source, ArrowInputLimits? limits = null, long? declaredLength = null, CancellationToken cancellationToken = default) =>
        OpenAsync(source, limits, declaredLength, recycleBodies: false, cancellationToken);

    /// <summary>
    /// As <see cref="OpenAsync(Stream, ArrowInputLimits?, long?, CancellationToken)"/>; with
    /// <paramref name="recycleBodies"/>, the body of a disposed batch is reused for a later batch
    /// of this reader or another (<see cref="BatchBodyPool"/>): for a caller that never touches a
    /// batch, nor an array sliced from it, after disposing it (a pull, which disposes each batch
    /// once written). Large pulls then allocate a few bodies between them instead of one per batch
    /// (memory and page faults), and one pull's bodies serve the next.
    /// </summary>
    internal static async Task<SafeArrowReader> OpenAsync(Stream source, ArrowInputLimits? limits, long? declaredLength, bool recycleBodies, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        limits ??= ArrowInputLimits.Default;
        var guard = new ArrowFramingGuard(source, limits, declaredLength);
        var reader = new ArrowStreamReader(guard, new BoundedAllocator(limits.MaxBodyBytes, recycleBodies), leaveOpen: true);
        try
        {
            var schema = await Guarded(async () => await reader.GetSchema(cancellationToken).ConfigureAwait(false)).ConfigureAwait(false)
                ?? throw new ArrowInputException(ArrowInputError.EmptyStream, "The stream has no schema.");
            ArrowBatchValidator.ValidateSchema(schema, limits);
            return new SafeArrowReader(guard, reader, limits, schema);
        }
        catch
        {
            reader.Dispose();
            await guard.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The next validated batch, or null after the end-of-stream marker. The caller disposes the batch.</summary>
    /// <exception cref="ArrowInputException">The next message is malformed, hostile, truncated or oversized.</exception>
    public ValueTask<RecordBatch?> ReadNextBatchAsync(CancellationToken cancellationToken = default) =>
        ReadNextBatchAsync(validate: true, cancellationToken);

    /// <summary>
    /// The next batch, framing-checked (<see cref="ArrowFramingGuard"/>) but, without
    /// <paramref name="validate"/>, not validated (<see cref="ArrowBatchValidator"/>): only for a
    /// caller that proves the batch's bytes are ones the node wrote itself from validated batches
    /// (a stored segment's block hash) before anything reads a value of it, and disposes it
    /// unread otherwise.
    /// </summary>
    internal async ValueTask<RecordBatch?> ReadNextBatchAsync(bool validate, CancellationToken cancellationToken)
    {
        if (_finished)
        {
            return null;
        }

        var batch = await Guarded(async () => await _reader.ReadNextRecordBatchAsync(cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        if (batch is null)
        {
            if (!_guard.Ended && _limits.RequireEndOfStreamMarker)
            {
                throw new ArrowInputException(ArrowInputError.MissingEndOfStream, "The stream ended without the end-of-stream marker.");
            }

            _finished = true;
            return null;
        }

        if (validate)
        {
            try
            {
                // The reader builds arrays without checking them; nothing may read a value before this.
                Guarded(() => ArrowBatchValidator.ValidateBatch(batch, Schema, _limits));
            }
            catch
            {
                batch.Dispose();
                throw;
            }
        }

        BatchesRead++;
        RowsRead += batch.Length;
        return batch;
    }

    /// <summary>All remaining validated batches; each is disposed by the caller.</summary>
    public async IAsyncEnumerable<RecordBatch> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await ReadNextBatchAsync(cancellationToken).ConfigureAwait(false) is { } batch)
        {
            yield return batch;
        }
    }

    public void Dispose()
    {
        _reader.Dispose();
        _guard.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        _reader.Dispose();
        await _guard.DisposeAsync().ConfigureAwait(false);
    }

    private static void Guarded(Action action) =>
        Guarded(() =>
        {
            action();
            return ValueTask.FromResult(0);
        }).AsTask().GetAwaiter().GetResult();

    // Apache.Arrow throws many exception types on malformed input (InvalidOperation, InvalidData,
    // ArgumentOutOfRange, Argument, Overflow, OutOfMemory, NullReference, IndexOutOfRange,
    // EndOfStream, NotSupported, NotImplemented, plain Exception were all seen). All of them are
    // the sender's fault here, so all of them become one type; cancellation stays cancellation.
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "Every reader failure on untrusted input is mapped to ArrowInputException by design.")]
    private static async ValueTask<T> Guarded<T>(Func<ValueTask<T>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (ArrowInputException)
        {
            throw;
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception ex)
        {
            throw new ArrowInputException(ArrowInputError.ReaderFailure, $"The Arrow reader refused the stream ({ex.GetType().Name}: {ex.Message}).", ex);
        }
    }

    /// <summary>
    /// Bodies in managed arrays, each refused above the cap: a second line behind the framing
    /// guard, and memory the GC accounts for (native allocations are invisible to it). Fresh
    /// arrays, unless <c>recycle</c>: then a disposed batch's body goes back to the node's
    /// <see cref="BatchBodyPool"/> and a later body (of this pull or another) is taken from there.
    /// Either way the reader fills the whole body from the stream before it builds a batch on it.
    /// </summary>
    private sealed class BoundedAllocator(long maxBytes, bool recycle) : MemoryAllocator(alignment: 8)
    {
        protected override IMemoryOwner<byte> AllocateInternal(int length, out int bytesAllocated)
        {
            if (length > maxBytes)
            {
                throw new ArrowInputException(ArrowInputError.BodyTooLarge, $"A message body of {length} bytes exceeds the cap of {maxBytes}.");
            }

            bytesAllocated = length;
            if (!recycle)
            {
                return new Owner(GC.AllocateUninitializedArray<byte>(length), length, null);
            }

            if (BatchBodyPool.Shared.TryRent(length) is { } kept)
            {
                return new Owner(kept, length, BatchBodyPool.Shared);
            }

            // An eighth more, rounded up to 64 KiB, so the later batches of a resource (a little
            // longer or shorter) fit the same array: each body a few per cent above the longest
            // so far was a new array, and the pool filled with arrays nobody took.
            var rounded = (int)Math.Min(maxBytes, ((long)length + (length / 8) + (1 << 16) - 1) & ~((1L << 16) - 1));
            return new Owner(GC.AllocateUninitializedArray<byte>(Math.Max(length, rounded)), length, BatchBodyPool.Shared);
        }

        private sealed class Owner(byte[] array, int length, BatchBodyPool? pool) : IMemoryOwner<byte>
        {
            private byte[]? _array = array;

            public Memory<byte> Memory { get; } = array.AsMemory(0, length);

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _array, null) is { } returned)
                {
                    pool?.Return(returned);
                }
            }
        }
    }
}
