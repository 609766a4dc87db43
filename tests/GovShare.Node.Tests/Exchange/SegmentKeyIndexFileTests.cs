using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Management;

namespace GovShare.Node.Tests.Exchange;

/// <summary>
/// A key index file (<c>&lt;segment&gt;.keys</c>) is used only when it is this segment's, for these key
/// columns, written under this folder's secret and whole: every other file is refused (and the node
/// then builds the index by reading the segment), so a wrong index never names a wrong row.
/// </summary>
public sealed class SegmentKeyIndexFileTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("govshare-keys-").FullName;
    private readonly DatasetSegment _segment = new("0123.arrows", 1000, 64_000, Sha256: new string('a', 64));
    private readonly int[] _keys = [0];

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static SegmentKeyIndex Index(int rows, long seed)
    {
        var hashes = new UInt128[rows];
        var positions = new long[rows];
        for (var i = 0; i < rows; i++)
        {
            hashes[i] = SegmentKeyIndex.Hash(BitConverter.GetBytes(i), seed);
            positions[i] = i;
        }

        System.Array.Sort(hashes, positions);
        return SegmentKeyIndex.FromSorted(hashes, positions);
    }

    private async Task<(SegmentKeyIndex Written, KeyIndexSecret Secret)> WriteAsync()
    {
        var secret = KeyIndexSecret.LoadOrCreate(_folder);
        var index = Index((int)_segment.Rows, secret.Seed);
        await SegmentKeyIndexFile.WriteAsync(_folder, _segment, _keys, index, secret, default);
        return (index, secret);
    }

    [Fact]
    public async Task Written_ThenRead_SameEntries_SecretKeptOwnerOnly_NoTemporaryFileLeft()
    {
        var (written, secret) = await WriteAsync();

        var (read, why) = await SegmentKeyIndexFile.TryReadAsync(_folder, _segment, _keys, KeyIndexSecret.LoadOrCreate(_folder), default);

        Assert.True(read is not null, why);
        Assert.Equal(written.Entries.Hashes, read.Entries.Hashes);
        Assert.Equal(written.Entries.Positions, read.Entries.Positions);
        Assert.Equal(secret.Seed, KeyIndexSecret.LoadOrCreate(_folder).Seed);
        Assert.Equal([7L], read.Find(SegmentKeyIndex.Hash(BitConverter.GetBytes(7), secret.Seed)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_folder, KeyIndexSecret.FileName)));
        Assert.Equal([_segment.File + ".keys", KeyIndexSecret.FileName], Directory.EnumerateFiles(_folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("header")]
    [InlineData("first hash")]
    [InlineData("a position")]
    [InlineData("last hash")]
    [InlineData("checksum")]
    public async Task OneBitFlipped_Anywhere_IsRefused(string where)
    {
        await WriteAsync();
        var path = SegmentKeyIndexFile.PathOf(_folder, _segment);
        var bytes = await File.ReadAllBytesAsync(path);
        var headerLength = bytes.Length - 32 - (24 * (int)_segment.Rows);
        var at = where switch
        {
            "header" => 12,
            "first hash" => headerLength + 3,
            "a position" => headerLength + (24 * 500) + 16,
            "last hash" => bytes.Length - 32 - 24,
            _ => bytes.Length - 1,
        };
        bytes[at] ^= 0x04;
        await File.WriteAllBytesAsync(path, bytes);

        var (read, why) = await SegmentKeyIndexFile.TryReadAsync(_folder, _segment, _keys, KeyIndexSecret.LoadOrCreate(_folder), default);

        Assert.Null(read);
        Assert.Contains(where == "header" ? "another segment" : "HMAC", why, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(-24)]
    [InlineData(1)]
    public async Task TruncatedOrLonger_IsRefused(int change)
    {
        await WriteAsync();
        var path = SegmentKeyIndexFile.PathOf(_folder, _segment);
        using (var file = new FileStream(path, FileMode.Open))
        {
            file.SetLength(file.Length + change);
        }

        var (read, why) = await SegmentKeyIndexFile.TryReadAsync(_folder, _segment, _keys, KeyIndexSecret.LoadOrCreate(_folder), default);

        Assert.Null(read);
        Assert.Contains("bytes, not", why, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnotherSegmentsFile_OtherKeyColumns_OtherContent_OrAnotherFoldersSecret_IsRefused()
    {
        await WriteAsync();
        var secret = KeyIndexSecret.LoadOrCreate(_folder);

        // Another segment of the same size: its file copied over.
        var other = _segment with { File = "4567.arrows" };
        File.Copy(SegmentKeyIndexFile.PathOf(_folder, _segment), SegmentKeyIndexFile.PathOf(_folder, other));
        Assert.Null((await SegmentKeyIndexFile.TryReadAsync(_folder, other, _keys, secret, default)).Index);

        // The same file name, other bytes (another block list), other key columns.
        Assert.Null((await SegmentKeyIndexFile.TryReadAsync(_folder, _segment with { Sha256 = new string('b', 64) }, _keys, secret, default)).Index);
        Assert.Null((await SegmentKeyIndexFile.TryReadAsync(_folder, _segment, [1], secret, default)).Index);
        Assert.Null((await SegmentKeyIndexFile.TryReadAsync(_folder, _segment, [0, 1], secret, default)).Index);

        // Another node's data folder wrote the same segment's index: its secret is not this one.
        var elsewhere = Directory.CreateTempSubdirectory("govshare-keys-other-").FullName;
        try
        {
            var foreign = KeyIndexSecret.LoadOrCreate(elsewhere);
            Assert.NotEqual(foreign.Seed, secret.Seed);
            await SegmentKeyIndexFile.WriteAsync(elsewhere, _segment, _keys, Index((int)_segment.Rows, secret.Seed), foreign, default);
            File.Copy(SegmentKeyIndexFile.PathOf(elsewhere, _segment), SegmentKeyIndexFile.PathOf(_folder, _segment), overwrite: true);
            var (read, why) = await SegmentKeyIndexFile.TryReadAsync(_folder, _segment, _keys, secret, default);
            Assert.Null(read);
            Assert.Contains("HMAC", why, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(elsewhere, recursive: true);
        }
    }

    [Fact]
    public async Task UnsortedOrOutOfRange_EvenUnderTheRightSecret_IsRefused()
    {
        var secret = KeyIndexSecret.LoadOrCreate(_folder);
        var hashes = Enumerable.Range(0, (int)_segment.Rows).Select(i => (UInt128)(ulong)(1000 - i)).ToArray();
        var positions = Enumerable.Range(0, (int)_segment.Rows).Select(i => (long)i).ToArray();
        await SegmentKeyIndexFile.WriteAsync(_folder, _segment, _keys, SegmentKeyIndex.FromSorted(hashes, positions), secret, default);
        Assert.Contains("not sorted", (await SegmentKeyIndexFile.TryReadAsync(_folder, _segment, _keys, secret, default)).Why, StringComparison.Ordinal);

        System.Array.Reverse(hashes);
        positions[3] = _segment.Rows;
        await SegmentKeyIndexFile.WriteAsync(_folder, _segment, _keys, SegmentKeyIndex.FromSorted(hashes, positions), secret, default);
        Assert.Null((await SegmentKeyIndexFile.TryReadAsync(_folder, _segment, _keys, secret, default)).Index);
    }

    [Fact]
    public void ASecretOfTheWrongLength_IsReplaced_AndBackupsSkipWhatTheStoreNames()
    {
        File.WriteAllBytes(Path.Combine(_folder, KeyIndexSecret.FileName), [1, 2, 3]);

        var secret = KeyIndexSecret.LoadOrCreate(_folder);

        Assert.Equal(32, new FileInfo(Path.Combine(_folder, KeyIndexSecret.FileName)).Length);
        Assert.Equal(secret.Seed, KeyIndexSecret.LoadOrCreate(_folder).Seed);
        Assert.Equal(SegmentKeyIndexFile.Extension, NodeBackup.KeyIndexExtension);
        Assert.Equal(KeyIndexSecret.FileName, NodeBackup.KeyIndexSecretFile);
    }
}
