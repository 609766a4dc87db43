using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace GovShare.Node.Exchange.Datasets;

/// <summary>
/// A segment's key index kept on disk beside it (<c>&lt;segment&gt;.keys</c>), so the first merge
/// or append after a restart finds its rows without reading the whole segment again.
/// </summary>
/// <remarks>
/// <para>Layout (little-endian): the magic <c>GSKEYIDX</c>, the format version (int32, 1), the
/// segment's file name and the SHA-256 of what pins its bytes (its block list, or its file hash;
/// <see cref="DatasetSegment"/>), the key columns (count, then each index), the segment's rows
/// (int64); then per row its 16-byte key hash and 8-byte position, sorted by hash
/// (<see cref="SegmentKeyIndex"/>); then an HMAC-SHA256 of everything before it under the
/// store's secret (<see cref="KeyIndexSecret"/>).</para>
/// <para>Derived data, never trusted: it is used only when its length, header (this segment,
/// these key columns, the rows its record says) and HMAC all match and its hashes are sorted and
/// positions in range; anything else — damaged, truncated, another segment's, another node's,
/// an older format — is ignored, and the index is built again by reading the segment (its SHA-256
/// checked) and rewritten. The HMAC, not a plain checksum, so a file copied from another data
/// folder or written by anyone without the secret is refused, not only a damaged one. Not fsynced:
/// a torn file after a crash fails its HMAC and is rebuilt. Written as a temporary file
/// (<c>*.keys.tmp</c>) renamed into place, so a reader never sees half a file.</para>
/// </remarks>
internal static class SegmentKeyIndexFile
{
    /// <summary>Beside the segment file: <c>&lt;segment file&gt;.keys</c>.</summary>
    public const string Extension = ".keys";

    /// <summary>Temporary files of an index being written (and of the secret being made): removed at start.</summary>
    public const string TempExtension = ".keys.tmp";

    private const int FormatVersion = 1;
    private const int EntryBytes = 24;
    private const int MacBytes = 32;
    private static readonly byte[] Magic = "GSKEYIDX"u8.ToArray();

    /// <summary>The index file's path for a segment of the store folder.</summary>
    public static string PathOf(string folder, DatasetSegment segment) => Path.Combine(folder, segment.File + Extension);

    /// <summary>Whether the file can be bound to its segment's bytes (segments stored before checksums cannot).</summary>
    public static bool CanKeep(DatasetSegment segment) => (segment.Blocks ?? segment.Sha256) is not null && BitConverter.IsLittleEndian;

    /// <summary>Writes the index (temporary file, then renamed over any earlier one).</summary>
    public static async Task WriteAsync(string folder, DatasetSegment segment, int[] keyColumns, SegmentKeyIndex index, KeyIndexSecret secret, CancellationToken cancellationToken)
    {
        var path = PathOf(folder, segment);
        var temp = path + "." + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)) + TempExtension;
        try
        {
            using var mac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secret.MacKey);
            await using (var file = new FileStream(temp, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 0, Options = FileOptions.Asynchronous }))
            {
                var header = Header(segment, keyColumns);
                mac.AppendData(header);
                await file.WriteAsync(header, cancellationToken).ConfigureAwait(false);

                // Entries in chunks: hash (16 bytes, its in-memory little-endian form) then position.
                var chunk = new byte[EntryBytes * 16_384];
                var (hashes, positions) = index.Entries;
                for (var start = 0; start < hashes.Length; start += 16_384)
                {
                    var count = Math.Min(16_384, hashes.Length - start);
                    for (var i = 0; i < count; i++)
                    {
                        MemoryMarshal.Write(chunk.AsSpan(i * EntryBytes), in hashes[start + i]);
                        BinaryPrimitives.WriteInt64LittleEndian(chunk.AsSpan((i * EntryBytes) + 16), positions[start + i]);
                    }

                    mac.AppendData(chunk, 0, count * EntryBytes);
                    await file.WriteAsync(chunk.AsMemory(0, count * EntryBytes), cancellationToken).ConfigureAwait(false);
                }

                await file.WriteAsync(mac.GetHashAndReset(), cancellationToken).ConfigureAwait(false);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>
    /// The index kept for this segment and these key columns, or null (with why) when there is
    /// none or it cannot be trusted.
    /// </summary>
    public static async Task<(SegmentKeyIndex? Index, string Why)> TryReadAsync(string folder, DatasetSegment segment, int[] keyColumns, KeyIndexSecret secret, CancellationToken cancellationToken)
    {
        var path = PathOf(folder, segment);
        FileStream file;
        try
        {
            file = new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.Read | FileShare.Delete, BufferSize = 0, Options = FileOptions.Asynchronous | FileOptions.SequentialScan });
        }
        catch (FileNotFoundException)
        {
            return (null, "no index file");
        }

        await using (file.ConfigureAwait(false))
        {
            var header = Header(segment, keyColumns);
            // The record says how many rows the segment has: nothing in the file sizes an allocation.
            var expected = header.Length + (segment.Rows * EntryBytes) + MacBytes;
            if (file.Length != expected)
            {
                return (null, $"index file is {file.Length} bytes, not {expected}");
            }

            using var mac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, secret.MacKey);
            var head = new byte[header.Length];
            await file.ReadExactlyAsync(head, cancellationToken).ConfigureAwait(false);
            if (!head.AsSpan().SequenceEqual(header))
            {
                return (null, "index file is of another segment, key or format");
            }

            mac.AppendData(head);
            var hashes = new UInt128[checked((int)segment.Rows)];
            var positions = new long[hashes.Length];
            var chunk = new byte[EntryBytes * 16_384];
            for (var start = 0; start < hashes.Length; start += 16_384)
            {
                var count = Math.Min(16_384, hashes.Length - start);
                await file.ReadExactlyAsync(chunk.AsMemory(0, count * EntryBytes), cancellationToken).ConfigureAwait(false);
                mac.AppendData(chunk, 0, count * EntryBytes);
                for (var i = 0; i < count; i++)
                {
                    hashes[start + i] = MemoryMarshal.Read<UInt128>(chunk.AsSpan(i * EntryBytes));
                    positions[start + i] = BinaryPrimitives.ReadInt64LittleEndian(chunk.AsSpan((i * EntryBytes) + 16));
                }
            }

            var stored = new byte[MacBytes];
            await file.ReadExactlyAsync(stored, cancellationToken).ConfigureAwait(false);
            if (!CryptographicOperations.FixedTimeEquals(stored, mac.GetHashAndReset()))
            {
                return (null, "index file fails its HMAC (damaged, or not written by this data folder)");
            }

            // Belt and braces: what binary search relies on, whoever wrote the file.
            for (var i = 0; i < hashes.Length; i++)
            {
                if ((i > 0 && hashes[i] < hashes[i - 1]) || positions[i] < -1 || positions[i] >= segment.Rows)
                {
                    return (null, "index file is not sorted or names a row outside the segment");
                }
            }

            return (SegmentKeyIndex.FromSorted(hashes, positions), "");
        }
    }

    /// <summary>Whether a file name of the store folder is a key index file (not a temporary one).</summary>
    public static bool IsIndexFile(string name, out string segmentFile)
    {
        var yes = name.EndsWith(Extension, StringComparison.Ordinal);
        segmentFile = yes ? name[..^Extension.Length] : "";
        return yes;
    }

    private static byte[] Header(DatasetSegment segment, int[] keyColumns)
    {
        var name = Encoding.UTF8.GetBytes(segment.File);
        var content = SHA256.HashData(Encoding.UTF8.GetBytes(segment.Blocks ?? segment.Sha256 ?? ""));
        var header = new byte[Magic.Length + 4 + 4 + name.Length + content.Length + 4 + (4 * keyColumns.Length) + 8];
        var span = header.AsSpan();
        Magic.CopyTo(span);
        var at = Magic.Length;
        BinaryPrimitives.WriteInt32LittleEndian(span[at..], FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(span[(at + 4)..], name.Length);
        at += 8;
        name.CopyTo(span[at..]);
        at += name.Length;
        content.CopyTo(span[at..]);
        at += content.Length;
        BinaryPrimitives.WriteInt32LittleEndian(span[at..], keyColumns.Length);
        at += 4;
        foreach (var column in keyColumns)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], column);
            at += 4;
        }

        BinaryPrimitives.WriteInt64LittleEndian(span[at..], segment.Rows);
        return header;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A leftover temporary file is removed at the next start.
        }
    }
}

/// <summary>
/// The store folder's secret for key indexes (<c>keys.secret</c>, 32 random bytes, owner-only):
/// the seed of every key hash (<see cref="Seed"/>) and the HMAC key of the index files.
/// </summary>
/// <remarks>
/// Why a secret: key hashes are seeded so a sender cannot choose keys that share one hash (which
/// would make lookups slow, or an append's key check refuse honest rows). A seed random per
/// process did that while indexes lived in memory only; indexes kept on disk need one seed for
/// the folder's life, so it is kept where the segments are (a folder shared by replicas shares
/// it) and never leaves the node: not in backups (the index files are not either; a restored
/// node makes a new secret and builds its indexes again), not in logs. Made once, as a temporary
/// file linked into place without overwriting, so replicas starting together agree on one.
/// </remarks>
internal sealed class KeyIndexSecret
{
    public const string FileName = "keys.secret";
    private const int Bytes = 32;

    private KeyIndexSecret(byte[] secret)
    {
        MacKey = secret;
        Seed = BinaryPrimitives.ReadInt64LittleEndian(HMACSHA256.HashData(secret, "GovShare key hash seed"u8));
    }

    /// <summary>The XxHash128 seed of key hashes (<see cref="SegmentKeyIndex.Hash"/>).</summary>
    public long Seed { get; }

    /// <summary>The HMAC-SHA256 key of index files.</summary>
    public byte[] MacKey { get; }

    /// <summary>Reads the folder's secret, making it first if there is none.</summary>
    public static KeyIndexSecret LoadOrCreate(string folder)
    {
        var path = Path.Combine(folder, FileName);
        for (var attempt = 0; ; attempt++)
        {
            if (TryRead(path) is { } existing)
            {
                return new KeyIndexSecret(existing);
            }

            var temp = Path.Combine(folder, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)) + SegmentKeyIndexFile.TempExtension);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var file = new FileStream(temp, options))
            {
                file.Write(RandomNumberGenerator.GetBytes(Bytes));
                file.Flush(flushToDisk: true);
            }

            try
            {
                // Not overwriting: if another process made one meanwhile, its secret is the folder's.
                File.Move(temp, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path) && attempt < 3)
            {
                File.Delete(temp);
            }
        }
    }

    private static byte[]? TryRead(string path)
    {
        try
        {
            var bytes = File.ReadAllBytes(path);
            if (bytes.Length == Bytes)
            {
                return bytes;
            }

            // Not ours (or damaged): index files made under it cannot be trusted either; start afresh.
            File.Delete(path);
            return null;
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }
}
