using System.Buffers.Binary;

namespace GovShare.Node.Exchange.Datasets;

/// <summary>
/// The blocks of a stored segment, as the node wrote it: consecutive byte ranges from the file's
/// start to its end, each ending where a record batch's message ends (the last at the file's end,
/// after the end-of-stream marker), with the SHA-256 of each. Recorded with the version
/// (<see cref="DatasetSegment.Blocks"/>), so a pull can prove a batch's bytes are the node's own
/// before it uses the batch, instead of finding out at the end of the file.
/// </summary>
/// <remarks>
/// Stored as base64 of 40 bytes a block: the block's end offset (int64, little-endian) and its
/// SHA-256. A block is at least <see cref="DatasetStoreOptions.BlockBytes"/> (but for the last),
/// so the list stays small (at most 20 KB a GB at the default 2 MiB) whatever the batch size.
/// </remarks>
internal static class SegmentBlocks
{
    public const int HashBytes = 32;
    private const int EntryBytes = 8 + HashBytes;

    /// <summary>One block: where it ends in the file, and its SHA-256.</summary>
    public readonly record struct Block(long End, ReadOnlyMemory<byte> Sha256);

    /// <summary>The blocks of a segment's record, or null when it has none (written before blocks were recorded).</summary>
    /// <exception cref="FormatException">The record is not a block list (never written by the node).</exception>
    public static Block[]? Parse(string? blocks)
    {
        if (blocks is null)
        {
            return null;
        }

        var bytes = Convert.FromBase64String(blocks);
        if (bytes.Length == 0 || bytes.Length % EntryBytes != 0)
        {
            throw new FormatException($"A block list of {bytes.Length} bytes is not a whole number of {EntryBytes}-byte entries.");
        }

        var result = new Block[bytes.Length / EntryBytes];
        long previous = 0;
        for (var i = 0; i < result.Length; i++)
        {
            var entry = bytes.AsMemory(i * EntryBytes, EntryBytes);
            var end = BinaryPrimitives.ReadInt64LittleEndian(entry.Span);
            if (end <= previous)
            {
                throw new FormatException($"Block {i} ends at {end}, not after the block before it ({previous}).");
            }

            result[i] = new Block(end, entry[8..]);
            previous = end;
        }

        return result;
    }

    /// <summary>Collects the blocks as the file is written.</summary>
    public sealed class Builder
    {
        private readonly System.Buffers.ArrayBufferWriter<byte> _entries = new();

        public void Add(long end, ReadOnlySpan<byte> sha256)
        {
            var entry = _entries.GetSpan(EntryBytes);
            BinaryPrimitives.WriteInt64LittleEndian(entry, end);
            sha256.CopyTo(entry[8..]);
            _entries.Advance(EntryBytes);
        }

        public string ToBase64() => Convert.ToBase64String(_entries.WrittenSpan);
    }
}
