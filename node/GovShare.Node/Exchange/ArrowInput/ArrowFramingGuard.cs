using System.Buffers.Binary;

namespace GovShare.Node.Exchange.ArrowInput;

/// <summary>
/// A read-only stream between the sender's bytes and Apache.Arrow's <c>ArrowStreamReader</c>.
/// It reads each IPC message's framing (continuation marker, metadata length, metadata) ahead
/// of the reader, checks the metadata and the declared body length against the caps and the
/// bytes the request can still carry, and only then lets the reader see the message. The
/// reader, which trusts declared lengths and allocates the body up front, therefore never
/// allocates more than <see cref="ArrowInputLimits.MaxBodyBytes"/> nor waits for bytes that
/// cannot arrive.
/// </summary>
/// <remarks>
/// Accepts the Arrow IPC streaming format with continuation markers (Arrow ≥ 0.15): a schema
/// message with an empty body, then record batch messages, then the end-of-stream marker
/// <c>FFFFFFFF 00000000</c>. Dictionary batches, tensors, compression and the legacy framing
/// without continuation markers are refused.
/// </remarks>
internal sealed class ArrowFramingGuard : Stream
{
    private const uint Continuation = 0xFFFFFFFF;

    private readonly Stream _inner;
    private readonly ArrowInputLimits _limits;
    private readonly long? _declaredLength;
    private byte[] _pending = [];
    private int _pendingPosition;
    private long _bodyRemaining;
    private long _consumed;
    private int _messages;
    private bool _ended;

    public ArrowFramingGuard(Stream inner, ArrowInputLimits limits, long? declaredLength)
    {
        _inner = inner;
        _limits = limits;
        _declaredLength = declaredLength;
    }

    /// <summary>The schema's buffers per top-level field, once the schema message has been framed.</summary>
    public IReadOnlyList<int>? FieldBufferCounts { get; private set; }

    /// <summary>The last record batch framed: its field nodes, for the validator to compare with the arrays.</summary>
    public ArrowMessageMetadata? LastBatch { get; private set; }

    /// <summary>Record batches framed so far.</summary>
    public int Batches { get; private set; }

    /// <summary>Bytes taken from the underlying stream so far.</summary>
    public long BytesRead => _consumed;

    /// <summary>True once the end-of-stream marker was read and nothing followed it.</summary>
    public bool Ended => _ended;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }

        if (_pendingPosition < _pending.Length)
        {
            var n = Math.Min(buffer.Length, _pending.Length - _pendingPosition);
            _pending.AsMemory(_pendingPosition, n).CopyTo(buffer);
            _pendingPosition += n;
            return n;
        }

        if (_bodyRemaining > 0)
        {
            var want = (int)Math.Min(buffer.Length, _bodyRemaining);
            var n = await ReadInnerAsync(buffer[..want], cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw new ArrowInputException(ArrowInputError.Truncated, $"The stream ended {_bodyRemaining} bytes before the end of message {_messages}'s body (after {_consumed} bytes).");
            }

            _bodyRemaining -= n;
            _consumed += n;
            return n;
        }

        if (_ended)
        {
            return 0;
        }

        await FrameNextMessageAsync(cancellationToken).ConfigureAwait(false);
        return await ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask FrameNextMessageAsync(CancellationToken cancellationToken)
    {
        var prefix = new byte[8];
        var got = await ReadFullyAsync(prefix.AsMemory(0, 4), cancellationToken).ConfigureAwait(false);
        if (got == 0)
        {
            if (_messages == 0)
            {
                throw new ArrowInputException(ArrowInputError.EmptyStream, "The stream is empty; an Arrow IPC stream starts with a schema message.");
            }

            if (_limits.RequireEndOfStreamMarker)
            {
                throw new ArrowInputException(ArrowInputError.MissingEndOfStream, $"The stream ended after {_consumed} bytes without the end-of-stream marker; the push may have been cut short.");
            }

            _ended = true;
            return;
        }

        if (got < 4)
        {
            throw Truncated("a message prefix");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(prefix) != Continuation)
        {
            throw new ArrowInputException(ArrowInputError.InvalidFraming, $"Message {_messages} at byte {_consumed - 4} does not start with the continuation marker 0xFFFFFFFF (legacy or corrupt framing).");
        }

        if (await ReadFullyAsync(prefix.AsMemory(4, 4), cancellationToken).ConfigureAwait(false) < 4)
        {
            throw Truncated("a metadata length");
        }

        var metadataLength = BinaryPrimitives.ReadInt32LittleEndian(prefix.AsSpan(4));
        if (metadataLength == 0)
        {
            await EndAsync(prefix, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (metadataLength < 0 || metadataLength > _limits.MaxMetadataBytes)
        {
            throw new ArrowInputException(ArrowInputError.MetadataTooLarge, $"Message {_messages} declares {metadataLength} bytes of metadata; the cap is {_limits.MaxMetadataBytes}.");
        }

        CheckRoom(metadataLength, "metadata");
        var framed = new byte[8 + metadataLength];
        prefix.CopyTo(framed, 0);
        if (await ReadFullyAsync(framed.AsMemory(8), cancellationToken).ConfigureAwait(false) < metadataLength)
        {
            throw Truncated("message metadata");
        }

        var message = ArrowMessageMetadata.Parse(framed.AsSpan(8), _limits);
        CheckRoom(message.BodyLength, "body");
        CheckSequence(message);
        _pending = framed;
        _pendingPosition = 0;
        _bodyRemaining = message.BodyLength;
        _messages++;
    }

    private void CheckSequence(ArrowMessageMetadata message)
    {
        if (_messages == 0)
        {
            if (message.Kind != ArrowMessageKind.Schema)
            {
                throw new ArrowInputException(ArrowInputError.UnexpectedMessage, $"The stream starts with a {message.Kind} message; it must start with the schema.");
            }

            if (message.BodyLength != 0)
            {
                throw new ArrowInputException(ArrowInputError.InvalidLength, "The schema message declares a body.");
            }

            FieldBufferCounts = message.FieldBufferCounts;
            return;
        }

        if (message.Kind != ArrowMessageKind.RecordBatch)
        {
            throw new ArrowInputException(ArrowInputError.UnexpectedMessage, $"Message {_messages} is a {message.Kind} message; after the schema only record batches are accepted.");
        }

        var expected = FieldBufferCounts!;
        if (message.Nodes.Count != expected.Count)
        {
            throw new ArrowInputException(ArrowInputError.LayoutMismatch, $"Record batch {Batches} has {message.Nodes.Count} field nodes; the schema has {expected.Count} columns.");
        }

        var buffers = 0;
        foreach (var count in expected)
        {
            buffers += count;
        }

        if (message.BufferCount != buffers)
        {
            throw new ArrowInputException(ArrowInputError.LayoutMismatch, $"Record batch {Batches} has {message.BufferCount} buffers; its schema needs {buffers}.");
        }

        CheckBufferPlacement(message);
        foreach (var (length, _) in message.Nodes)
        {
            if (length != message.Rows)
            {
                throw new ArrowInputException(ArrowInputError.InvalidLength, $"Record batch {Batches} has {message.Rows} rows but a column of {length} values.");
            }
        }

        LastBatch = message;
        Batches++;
    }

    /// <summary>
    /// Each non-empty buffer starts 8-byte aligned and shares no byte with another. Apache.Arrow
    /// reads either, but the JavaScript reader refuses unaligned buffers, and overlapping ones
    /// would let one value be two: the stored file must be what every reader reads alike.
    /// </summary>
    private void CheckBufferPlacement(ArrowMessageMetadata message)
    {
        var placed = new List<(long Offset, long Length, int Index)>(message.Buffers.Count);
        for (var i = 0; i < message.Buffers.Count; i++)
        {
            var (offset, length, _) = message.Buffers[i];
            if (length == 0)
            {
                continue;
            }

            if (offset % 8 != 0)
            {
                throw new ArrowInputException(ArrowInputError.UnalignedBuffer, $"Record batch {Batches}: buffer {i} starts at body offset {offset}, not a multiple of 8.");
            }

            placed.Add((offset, length, i));
        }

        placed.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        for (var i = 1; i < placed.Count; i++)
        {
            if (placed[i].Offset < placed[i - 1].Offset + placed[i - 1].Length)
            {
                throw new ArrowInputException(ArrowInputError.OverlappingBuffers, $"Record batch {Batches}: buffers {placed[i - 1].Index} and {placed[i].Index} overlap in the body.");
            }
        }
    }

    private async ValueTask EndAsync(byte[] prefix, CancellationToken cancellationToken)
    {
        if (_messages == 0)
        {
            throw new ArrowInputException(ArrowInputError.UnexpectedMessage, "The stream ends before its schema.");
        }

        var probe = new byte[1];
        if (await ReadInnerAsync(probe, cancellationToken).ConfigureAwait(false) != 0)
        {
            throw new ArrowInputException(ArrowInputError.TrailingData, $"Bytes follow the end-of-stream marker at byte {_consumed - 8}.");
        }

        _pending = prefix;
        _pendingPosition = 0;
        _ended = true;
    }

    private void CheckRoom(long bytes, string what)
    {
        var after = _consumed + bytes;
        if (_declaredLength is { } declared && after > declared)
        {
            throw new ArrowInputException(ArrowInputError.ExceedsDeclaredLength, $"Message {_messages} declares {bytes} bytes of {what}, but the request carries only {Math.Max(0, declared - _consumed)} more bytes.");
        }

        if (_limits.MaxStreamBytes is { } cap && after > cap)
        {
            throw new ArrowInputException(ArrowInputError.StreamTooLarge, $"The stream exceeds the cap of {cap} bytes.");
        }
    }

    private ArrowInputException Truncated(string what) =>
        new(ArrowInputError.Truncated, $"The stream ended inside {what} of message {_messages} (after {_consumed} bytes).");

    private async ValueTask<int> ReadFullyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = await ReadInnerAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        _consumed += total;
        return total;
    }

    private async ValueTask<int> ReadInnerAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw new ArrowInputException(ArrowInputError.TransportFailure, $"Reading the stream failed after {_consumed} bytes: {ex.Message}", ex);
        }
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
