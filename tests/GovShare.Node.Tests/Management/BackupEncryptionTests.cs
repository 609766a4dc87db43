using System.Security.Cryptography;
using GovShare.Node.Management;

namespace GovShare.Node.Tests.Management;

/// <summary>The encrypted backup format (<see cref="BackupEncryption"/>) against the attacks on a stored file: cut, swap, edit, wrong key.</summary>
public sealed class BackupEncryptionTests
{
    private const int Chunk = 1 << 20;
    private const int Framed = 5 + Chunk + 16;
    private static readonly byte[] Key = RandomNumberGenerator.GetBytes(32);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(Chunk)]
    [InlineData((2 * Chunk) + 12345)]
    public async Task RoundTrip_GivesTheBytesBack(int length)
    {
        var plain = RandomNumberGenerator.GetBytes(length);
        var sealedBytes = await EncryptAsync(plain);
        Assert.Equal(plain, await DecryptAsync(sealedBytes, Key));
    }

    [Fact]
    public async Task CutAtAChunkBoundary_IsRefusedAsTruncated()
    {
        var sealedBytes = await EncryptAsync(RandomNumberGenerator.GetBytes((2 * Chunk) + 10));
        var cut = sealedBytes.AsSpan(0, 21 + (2 * Framed)).ToArray();
        var refused = await Assert.ThrowsAsync<BackupInvalidException>(() => DecryptAsync(cut, Key));
        Assert.Contains("truncated", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SwappedChunks_EditedByte_WrongKey_FlagForged_AreRefused()
    {
        var sealedBytes = await EncryptAsync(RandomNumberGenerator.GetBytes((2 * Chunk) + 10));
        var swapped = (byte[])sealedBytes.Clone();
        sealedBytes.AsSpan(21, Framed).CopyTo(swapped.AsSpan(21 + Framed));
        sealedBytes.AsSpan(21 + Framed, Framed).CopyTo(swapped.AsSpan(21));
        await Assert.ThrowsAsync<BackupInvalidException>(() => DecryptAsync(swapped, Key));

        var edited = (byte[])sealedBytes.Clone();
        edited[100] ^= 1;
        await Assert.ThrowsAsync<BackupInvalidException>(() => DecryptAsync(edited, Key));

        await Assert.ThrowsAsync<BackupInvalidException>(() => DecryptAsync(sealedBytes, RandomNumberGenerator.GetBytes(32)));

        // Marking the first chunk final and dropping the rest: the flag is in the AAD, so its tag fails.
        var forged = sealedBytes.AsSpan(0, 21 + Framed).ToArray();
        forged[21] = 1;
        await Assert.ThrowsAsync<BackupInvalidException>(() => DecryptAsync(forged, Key));

        var trailing = sealedBytes.Concat(new byte[] { 0 }).ToArray();
        await Assert.ThrowsAsync<BackupInvalidException>(() => DecryptAsync(trailing, Key));
    }

    private static async Task<byte[]> EncryptAsync(byte[] plain)
    {
        using var output = new MemoryStream();
        await BackupEncryption.EncryptAsync(new MemoryStream(plain), output, Key, CancellationToken.None);
        return output.ToArray();
    }

    private static async Task<byte[]> DecryptAsync(byte[] sealedBytes, byte[] key)
    {
        using var output = new MemoryStream();
        await BackupEncryption.DecryptAsync(new MemoryStream(sealedBytes), output, key, CancellationToken.None);
        return output.ToArray();
    }
}
