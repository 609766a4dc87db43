namespace GovShare.Node.Exchange.ArrowInput;

/// <summary>
/// Why an Arrow IPC input was refused. Each value has a stable code (<see cref="ArrowInputException.Code"/>)
/// that callers, logs and problem+json extensions switch on; never rename one.
/// </summary>
public enum ArrowInputError
{
    /// <summary>The input has no bytes at all.</summary>
    EmptyStream,

    /// <summary>The input ended inside a message (prefix, metadata or body).</summary>
    Truncated,

    /// <summary>The input ended at a message boundary without the end-of-stream marker.</summary>
    MissingEndOfStream,

    /// <summary>Bytes follow the end-of-stream marker.</summary>
    TrailingData,

    /// <summary>A message does not start with the continuation marker 0xFFFFFFFF (or a legacy pre-0.15 stream).</summary>
    InvalidFraming,

    /// <summary>A message's metadata length is negative or above the cap.</summary>
    MetadataTooLarge,

    /// <summary>A message's body length is negative or above the cap.</summary>
    BodyTooLarge,

    /// <summary>A message declares more bytes than the request can still carry.</summary>
    ExceedsDeclaredLength,

    /// <summary>The whole stream is larger than the cap.</summary>
    StreamTooLarge,

    /// <summary>The flatbuffer metadata of a message is malformed (an offset or length points outside it).</summary>
    InvalidMetadata,

    /// <summary>The metadata version is older than V4.</summary>
    UnsupportedVersion,

    /// <summary>A message of a kind or at a place the exchange does not accept (dictionary batch, tensor, second schema …).</summary>
    UnexpectedMessage,

    /// <summary>The record batch body is compressed, or uses variadic buffers.</summary>
    UnsupportedCompression,

    /// <summary>A column's type is not one of the item types the catalog uses.</summary>
    UnsupportedType,

    /// <summary>Two columns of the schema have the same name.</summary>
    DuplicateColumn,

    /// <summary>A field nests deeper than the cap.</summary>
    NestingTooDeep,

    /// <summary>More columns than the cap, or none at all.</summary>
    TooManyColumns,

    /// <summary>A record batch's field nodes or buffers do not match the schema.</summary>
    LayoutMismatch,

    /// <summary>A declared length (rows, buffer offset or length) is out of range.</summary>
    InvalidLength,

    /// <summary>A null count is out of range or disagrees with the validity bitmap.</summary>
    InvalidNullCount,

    /// <summary>A validity, value or offsets buffer is shorter than its array's declared length needs.</summary>
    BufferTooShort,

    /// <summary>Variable-length offsets are negative, decreasing or point past the data buffer.</summary>
    InvalidOffsets,

    /// <summary>A utf8 value is not valid UTF-8.</summary>
    InvalidUtf8,

    /// <summary>The Arrow reader refused the input in a way the checks before it did not foresee.</summary>
    ReaderFailure,

    /// <summary>A record batch buffer does not start at a multiple of 8 bytes in the body (other Arrow readers refuse it).</summary>
    UnalignedBuffer,

    /// <summary>Two record batch buffers share bytes of the body.</summary>
    OverlappingBuffers,

    /// <summary>Reading the underlying transport failed (the sender went away, a disk error).</summary>
    TransportFailure,

    /// <summary>A stored file's bytes do not hash to the SHA-256 the node recorded when it wrote them (altered behind the node's back).</summary>
    ChecksumMismatch,
}

/// <summary>
/// The one exception every failure of <see cref="SafeArrowReader"/> becomes: a malformed,
/// hostile, truncated or oversized Arrow input. Its message names the problem precisely and
/// never contains payload values.
/// </summary>
public sealed class ArrowInputException : Exception
{
    public ArrowInputException(ArrowInputError error, string message, Exception? inner = null)
        : base(message, inner)
    {
        Error = error;
    }

    public ArrowInputException()
        : this(ArrowInputError.ReaderFailure, "The Arrow input was refused.")
    {
    }

    public ArrowInputException(string message)
        : this(ArrowInputError.ReaderFailure, message)
    {
    }

    public ArrowInputException(string message, Exception inner)
        : this(ArrowInputError.ReaderFailure, message, inner)
    {
    }

    /// <summary>The kind of failure.</summary>
    public ArrowInputError Error { get; }

    /// <summary>The stable code of <see cref="Error"/>, e.g. <c>arrow-truncated</c>.</summary>
    public string Code => CodeOf(Error);

    /// <summary>The stable code of an error kind.</summary>
    public static string CodeOf(ArrowInputError error) => error switch
    {
        ArrowInputError.EmptyStream => "arrow-empty-stream",
        ArrowInputError.Truncated => "arrow-truncated",
        ArrowInputError.MissingEndOfStream => "arrow-missing-end-of-stream",
        ArrowInputError.TrailingData => "arrow-trailing-data",
        ArrowInputError.InvalidFraming => "arrow-invalid-framing",
        ArrowInputError.MetadataTooLarge => "arrow-metadata-too-large",
        ArrowInputError.BodyTooLarge => "arrow-body-too-large",
        ArrowInputError.ExceedsDeclaredLength => "arrow-exceeds-declared-length",
        ArrowInputError.StreamTooLarge => "arrow-stream-too-large",
        ArrowInputError.InvalidMetadata => "arrow-invalid-metadata",
        ArrowInputError.UnsupportedVersion => "arrow-unsupported-version",
        ArrowInputError.UnexpectedMessage => "arrow-unexpected-message",
        ArrowInputError.UnsupportedCompression => "arrow-unsupported-compression",
        ArrowInputError.UnsupportedType => "arrow-unsupported-type",
        ArrowInputError.DuplicateColumn => "arrow-duplicate-column",
        ArrowInputError.NestingTooDeep => "arrow-nesting-too-deep",
        ArrowInputError.TooManyColumns => "arrow-too-many-columns",
        ArrowInputError.LayoutMismatch => "arrow-layout-mismatch",
        ArrowInputError.InvalidLength => "arrow-invalid-length",
        ArrowInputError.InvalidNullCount => "arrow-invalid-null-count",
        ArrowInputError.BufferTooShort => "arrow-buffer-too-short",
        ArrowInputError.InvalidOffsets => "arrow-invalid-offsets",
        ArrowInputError.InvalidUtf8 => "arrow-invalid-utf8",
        ArrowInputError.ReaderFailure => "arrow-reader-failure",
        ArrowInputError.TransportFailure => "arrow-transport-failure",
        ArrowInputError.ChecksumMismatch => "arrow-checksum-mismatch",
        ArrowInputError.UnalignedBuffer => "arrow-unaligned-buffer",
        ArrowInputError.OverlappingBuffers => "arrow-overlapping-buffers",
        _ => "arrow-unknown",
    };
}
