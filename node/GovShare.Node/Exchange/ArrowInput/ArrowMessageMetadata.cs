using System.Buffers.Binary;

namespace GovShare.Node.Exchange.ArrowInput;

/// <summary>The kinds of Arrow IPC message (flatbuffer enum <c>MessageHeader</c>).</summary>
internal enum ArrowMessageKind : byte
{
    None = 0,
    Schema = 1,
    DictionaryBatch = 2,
    RecordBatch = 3,
    Tensor = 4,
    SparseTensor = 5,
}

/// <summary>
/// Just enough of an Arrow IPC <c>Message</c> flatbuffer, parsed defensively before the Arrow
/// reader sees it: every offset is bounds-checked against the metadata bytes, and any violation
/// is an <see cref="ArrowInputException"/> (never an index exception).
/// </summary>
internal sealed class ArrowMessageMetadata
{
    // Flatbuf Type enum values of the item types the catalog uses.
    internal const byte TypeInt = 2;
    internal const byte TypeFloatingPoint = 3;
    internal const byte TypeBinary = 4;
    internal const byte TypeUtf8 = 5;
    internal const byte TypeBool = 6;
    internal const byte TypeDecimal = 7;
    internal const byte TypeDate = 8;
    internal const byte TypeTimestamp = 10;

    private ArrowMessageMetadata(ArrowMessageKind kind, short version, long bodyLength)
    {
        Kind = kind;
        Version = version;
        BodyLength = bodyLength;
    }

    public ArrowMessageKind Kind { get; }

    public short Version { get; }

    public long BodyLength { get; }

    /// <summary>For a schema: the buffers each top-level field takes in a record batch.</summary>
    public IReadOnlyList<int> FieldBufferCounts { get; private set; } = [];

    /// <summary>For a record batch: its row count.</summary>
    public long Rows { get; private set; }

    /// <summary>For a record batch: (length, null count) per field node.</summary>
    public IReadOnlyList<(long Length, long NullCount)> Nodes { get; private set; } = [];

    /// <summary>For a record batch: the number of buffers.</summary>
    public int BufferCount => Buffers.Count;

    /// <summary>For a record batch: each buffer's offset and length in the body, and where its entry sits in the metadata.</summary>
    public IReadOnlyList<(long Offset, long Length, int MetadataPosition)> Buffers { get; private set; } = [];

    /// <summary>Where the body length field sits in the metadata, or -1 when absent.</summary>
    public int BodyLengthPosition { get; private set; } = -1;

    /// <summary>Parses and checks a message's metadata. Record batches are checked against the body length.</summary>
    public static ArrowMessageMetadata Parse(ReadOnlySpan<byte> metadata, ArrowInputLimits limits)
    {
        var root = Flat.Root(metadata);
        var version = root.Int16(metadata, 0);
        if (version < 3)
        {
            throw new ArrowInputException(ArrowInputError.UnsupportedVersion, $"The Arrow metadata version V{version + 1} is older than V4; write the stream with Arrow 1.0 or later.");
        }

        var kind = (ArrowMessageKind)root.Byte(metadata, 1);
        var bodyLength = root.Int64(metadata, 3);
        if (bodyLength < 0 || bodyLength > limits.MaxBodyBytes)
        {
            throw new ArrowInputException(ArrowInputError.BodyTooLarge, $"A message declares a body of {bodyLength} bytes; the cap is {limits.MaxBodyBytes}.");
        }

        var message = new ArrowMessageMetadata(kind, version, bodyLength) { BodyLengthPosition = root.Position(metadata, 3, 8) };
        var header = root.Table(metadata, 2);
        switch (kind)
        {
            case ArrowMessageKind.Schema:
                if (header is null)
                {
                    throw Invalid("the schema message has no schema");
                }

                message.FieldBufferCounts = ParseSchema(metadata, header.Value, limits);
                break;
            case ArrowMessageKind.RecordBatch:
                if (header is null)
                {
                    throw Invalid("the record batch message has no header");
                }

                message.ParseRecordBatch(metadata, header.Value, limits);
                break;
            default:
                break;
        }

        return message;
    }

    private static int[] ParseSchema(ReadOnlySpan<byte> metadata, Flat schema, ArrowInputLimits limits)
    {
        // Schema: 0 endianness, 1 fields, 2 custom_metadata, 3 features.
        if (schema.Int16(metadata, 0) != 0)
        {
            throw new ArrowInputException(ArrowInputError.UnsupportedType, "The schema is big-endian; only little-endian streams are accepted.");
        }

        var fields = schema.Vector(metadata, 1, 4);
        if (fields.Count == 0)
        {
            throw new ArrowInputException(ArrowInputError.TooManyColumns, "The schema has no columns.");
        }

        if (fields.Count > limits.MaxColumns)
        {
            throw new ArrowInputException(ArrowInputError.TooManyColumns, $"The schema has {fields.Count} columns; the cap is {limits.MaxColumns}.");
        }

        var counts = new int[fields.Count];

        // The Arrow reader builds nested fields recursively, so the depth is bounded here, with
        // an explicit stack, before a deep schema can exhaust the reader's call stack.
        var pending = new Stack<(Flat Field, int Depth)>();
        var visited = 0;
        for (var i = 0; i < fields.Count; i++)
        {
            var field = fields.TableAt(metadata, i);
            pending.Push((field, 1));
            while (pending.Count > 0)
            {
                var (current, depth) = pending.Pop();
                if (depth > limits.MaxNestingDepth)
                {
                    throw new ArrowInputException(ArrowInputError.NestingTooDeep, $"Column {i} nests deeper than {limits.MaxNestingDepth} levels.");
                }

                if (++visited > limits.MaxColumns * 4)
                {
                    throw new ArrowInputException(ArrowInputError.TooManyColumns, "The schema has too many nested fields.");
                }

                // Field: 0 name, 1 nullable, 2 type_type, 3 type, 4 dictionary, 5 children, 6 custom_metadata.
                var children = current.Vector(metadata, 5, 4);
                for (var c = 0; c < children.Count; c++)
                {
                    pending.Push((children.TableAt(metadata, c), depth + 1));
                }
            }

            // Depth first, so a deeply nested column reports its depth rather than its type.
            counts[i] = TopLevelBufferCount(metadata, field, i);
        }

        return counts;
    }

    private static int TopLevelBufferCount(ReadOnlySpan<byte> metadata, Flat field, int index)
    {
        if (field.Table(metadata, 4) is not null)
        {
            throw new ArrowInputException(ArrowInputError.UnsupportedType, $"Column {index} is dictionary-encoded; send plain values.");
        }

        var type = field.Byte(metadata, 2);
        switch (type)
        {
            case TypeUtf8:
            case TypeBinary:
                return 3;
            case TypeInt:
            case TypeFloatingPoint:
            case TypeBool:
            case TypeDecimal:
            case TypeDate:
            case TypeTimestamp:
                if (field.Vector(metadata, 5, 4).Count > 0)
                {
                    throw new ArrowInputException(ArrowInputError.UnsupportedType, $"Column {index} is a flat type with child fields.");
                }

                return 2;
            default:
                throw new ArrowInputException(ArrowInputError.UnsupportedType, $"Column {index} has Arrow type id {type}; the supported item types are {ArrowBatchValidator.SupportedTypesText}.");
        }
    }

    private void ParseRecordBatch(ReadOnlySpan<byte> metadata, Flat batch, ArrowInputLimits limits)
    {
        // RecordBatch: 0 length, 1 nodes [FieldNode], 2 buffers [Buffer], 3 compression, 4 variadicBufferCounts.
        Rows = batch.Int64(metadata, 0);
        if (Rows < 0 || Rows > limits.MaxRowsPerBatch)
        {
            throw new ArrowInputException(ArrowInputError.InvalidLength, $"A record batch declares {Rows} rows; the cap is {limits.MaxRowsPerBatch}.");
        }

        if (batch.Table(metadata, 3) is not null)
        {
            throw new ArrowInputException(ArrowInputError.UnsupportedCompression, "The record batch is compressed; send uncompressed buffers (HTTP content coding may compress the transfer).");
        }

        if (batch.Vector(metadata, 4, 8).Count > 0)
        {
            throw new ArrowInputException(ArrowInputError.UnsupportedCompression, "The record batch has variadic buffer counts (view types), which are not supported.");
        }

        var nodes = batch.Vector(metadata, 1, 16);
        if (nodes.Count > limits.MaxColumns * 4)
        {
            throw new ArrowInputException(ArrowInputError.LayoutMismatch, $"The record batch has {nodes.Count} field nodes.");
        }

        var list = new (long, long)[nodes.Count];
        for (var i = 0; i < nodes.Count; i++)
        {
            var at = nodes.ElementAt(i);
            var length = BinaryPrimitives.ReadInt64LittleEndian(metadata.Slice(at, 8));
            var nulls = BinaryPrimitives.ReadInt64LittleEndian(metadata.Slice(at + 8, 8));
            if (length < 0 || length > int.MaxValue)
            {
                throw new ArrowInputException(ArrowInputError.InvalidLength, $"Field node {i} declares {length} values.");
            }

            if (nulls < 0 || nulls > length)
            {
                throw new ArrowInputException(ArrowInputError.InvalidNullCount, $"Field node {i} declares {nulls} nulls in {length} values.");
            }

            list[i] = (length, nulls);
        }

        Nodes = list;
        var buffers = batch.Vector(metadata, 2, 16);
        var entries = new (long, long, int)[buffers.Count];
        for (var i = 0; i < buffers.Count; i++)
        {
            var at = buffers.ElementAt(i);
            var offset = BinaryPrimitives.ReadInt64LittleEndian(metadata.Slice(at, 8));
            var length = BinaryPrimitives.ReadInt64LittleEndian(metadata.Slice(at + 8, 8));
            if (offset < 0 || length < 0 || offset > BodyLength || length > BodyLength - offset)
            {
                throw new ArrowInputException(ArrowInputError.InvalidLength, $"Buffer {i} (offset {offset}, length {length}) lies outside the {BodyLength}-byte body.");
            }

            entries[i] = (offset, length, at);
        }

        Buffers = entries;
    }

    private static ArrowInputException Invalid(string what) =>
        new(ArrowInputError.InvalidMetadata, $"The message metadata is malformed: {what}.");

    /// <summary>A flatbuffer table located inside the metadata, with its vtable bounds-checked.</summary>
    private readonly struct Flat
    {
        private readonly int _table;
        private readonly int _vtable;
        private readonly int _vtableSize;

        private Flat(int table, int vtable, int vtableSize)
        {
            _table = table;
            _vtable = vtable;
            _vtableSize = vtableSize;
        }

        public static Flat Root(ReadOnlySpan<byte> data)
        {
            if (data.Length < 8)
            {
                throw Invalid("it is shorter than a flatbuffer root");
            }

            return At(data, (long)BinaryPrimitives.ReadUInt32LittleEndian(data));
        }

        private static Flat At(ReadOnlySpan<byte> data, long table)
        {
            if (table < 0 || table > data.Length - 4)
            {
                throw Invalid("a table offset points outside the metadata");
            }

            var vtable = table - BinaryPrimitives.ReadInt32LittleEndian(data.Slice((int)table, 4));
            if (vtable < 0 || vtable > data.Length - 4)
            {
                throw Invalid("a vtable offset points outside the metadata");
            }

            int vtableSize = BinaryPrimitives.ReadUInt16LittleEndian(data.Slice((int)vtable, 2));
            if (vtableSize < 4 || (vtableSize & 1) != 0 || vtable + vtableSize > data.Length)
            {
                throw Invalid("a vtable has an impossible size");
            }

            return new Flat((int)table, (int)vtable, vtableSize);
        }

        /// <summary>The absolute position of a field of <paramref name="size"/> bytes, or -1 when absent.</summary>
        private int Field(ReadOnlySpan<byte> data, int index, int size)
        {
            var slot = 4 + (2 * index);
            if (slot + 2 > _vtableSize)
            {
                return -1;
            }

            int offset = BinaryPrimitives.ReadUInt16LittleEndian(data.Slice(_vtable + slot, 2));
            if (offset == 0)
            {
                return -1;
            }

            var at = (long)_table + offset;
            if (at + size > data.Length)
            {
                throw Invalid("a field lies outside the metadata");
            }

            return (int)at;
        }

        public int Position(ReadOnlySpan<byte> data, int index, int size) => Field(data, index, size);

        public byte Byte(ReadOnlySpan<byte> data, int index)
        {
            var at = Field(data, index, 1);
            return at < 0 ? (byte)0 : data[at];
        }

        public short Int16(ReadOnlySpan<byte> data, int index)
        {
            var at = Field(data, index, 2);
            return at < 0 ? (short)0 : BinaryPrimitives.ReadInt16LittleEndian(data.Slice(at, 2));
        }

        public long Int64(ReadOnlySpan<byte> data, int index)
        {
            var at = Field(data, index, 8);
            return at < 0 ? 0 : BinaryPrimitives.ReadInt64LittleEndian(data.Slice(at, 8));
        }

        private static long Target(ReadOnlySpan<byte> data, int at) =>
            at + (long)BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(at, 4));

        public Flat? Table(ReadOnlySpan<byte> data, int index)
        {
            var at = Field(data, index, 4);
            return at < 0 ? null : At(data, Target(data, at));
        }

        public FlatVector Vector(ReadOnlySpan<byte> data, int index, int elementSize)
        {
            var at = Field(data, index, 4);
            if (at < 0)
            {
                return default;
            }

            var start = Target(data, at);
            if (start > data.Length - 4)
            {
                throw Invalid("a vector offset points outside the metadata");
            }

            long count = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice((int)start, 4));
            if (start + 4 + (count * elementSize) > data.Length)
            {
                throw Invalid("a vector runs past the end of the metadata");
            }

            return new FlatVector((int)start + 4, (int)count, elementSize);
        }

        public readonly record struct FlatVector(int Start, int Count, int ElementSize)
        {
            public int ElementAt(int i) => Start + (i * ElementSize);

            public Flat TableAt(ReadOnlySpan<byte> data, int i)
            {
                var at = ElementAt(i);
                return At(data, at + (long)BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(at, 4)));
            }
        }
    }
}
