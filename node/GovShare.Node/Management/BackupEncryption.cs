using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace GovShare.Node.Management;

/// <summary>
/// The encrypted form of a backup (<c>node backup --key-file</c>), done by the CLI so the key never
/// reaches the node. AES-256-GCM from the BCL, in chunks, so a backup of any size streams:
/// <code>
/// file   = "GSBK1" salt(16) chunk*            ; the last chunk has flag 1, every other flag 0
/// key    = HKDF-SHA256(ikm = key file (32 bytes), salt, info = "govshare-backup/1")
/// chunk  = flag(1) length(4, big-endian) ciphertext(length) tag(16)    ; length ≤ 1 MiB
/// nonce  = 0(4) counter(8, big-endian)     ; counter = 0, 1, 2 … (never reused: fresh salt, fresh key)
/// aad    = "GSBK1" salt counter(8) flag(1)
/// </code>
/// The counter in the nonce makes a swapped or dropped chunk fail its tag; the flag in the AAD makes
/// a file cut after any chunk but the last one fail ("truncated"), and data after the last one is refused.
/// </summary>
public static class BackupEncryption
{
    public const int KeyBytes = 32;

    private const int ChunkBytes = 1 << 20;
    private const int TagBytes = 16;
    private static readonly byte[] Magic = "GSBK1"u8.ToArray();

    /// <summary>Reads a key file: exactly 32 bytes (<c>head -c 32 /dev/urandom &gt; backup.key</c>).</summary>
    /// <exception cref="ArgumentException">The file is not 32 bytes.</exception>
    public static byte[] ReadKeyFile(string path)
    {
        var key = File.ReadAllBytes(path);
        if (key.Length != KeyBytes)
        {
            throw new ArgumentException($"The key file '{path}' holds {key.Length} bytes; a backup key is exactly {KeyBytes} random bytes (head -c 32 /dev/urandom > backup.key).");
        }

        return key;
    }

    /// <summary>Whether a file starts like an encrypted backup.</summary>
    public static bool IsEncrypted(string path)
    {
        using var file = File.OpenRead(path);
        Span<byte> start = stackalloc byte[5];
        return file.ReadAtLeast(start, start.Length, throwOnEndOfStream: false) == start.Length && start.SequenceEqual(Magic);
    }

    public static async Task EncryptAsync(Stream plain, Stream output, byte[] keyFile, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(plain);
        ArgumentNullException.ThrowIfNull(output);
        var salt = RandomNumberGenerator.GetBytes(16);
        using var aes = new AesGcm(Derive(keyFile, salt), TagBytes);
        await output.WriteAsync(Magic, cancellation);
        await output.WriteAsync(salt, cancellation);
        var current = new byte[ChunkBytes];
        var next = new byte[ChunkBytes];
        var currentLength = await plain.ReadAtLeastAsync(current, ChunkBytes, throwOnEndOfStream: false, cancellation);
        var cipher = new byte[ChunkBytes];
        var tag = new byte[TagBytes];
        for (long counter = 0; ; counter++)
        {
            // Read ahead one chunk: the current one is final exactly when nothing follows it.
            var nextLength = currentLength < ChunkBytes ? 0 : await plain.ReadAtLeastAsync(next, ChunkBytes, throwOnEndOfStream: false, cancellation);
            var final = nextLength == 0;
            aes.Encrypt(Nonce(counter), current.AsSpan(0, currentLength), cipher.AsSpan(0, currentLength), tag, Aad(salt, counter, final));
            var header = new byte[5];
            header[0] = final ? (byte)1 : (byte)0;
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(1), currentLength);
            await output.WriteAsync(header, cancellation);
            await output.WriteAsync(cipher.AsMemory(0, currentLength), cancellation);
            await output.WriteAsync(tag, cancellation);
            if (final)
            {
                return;
            }

            (current, next) = (next, current);
            currentLength = nextLength;
        }
    }

    /// <exception cref="BackupInvalidException">Wrong key, or the file was changed or truncated.</exception>
    public static async Task DecryptAsync(Stream input, Stream plain, byte[] keyFile, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(plain);
        var head = new byte[Magic.Length + 16];
        if (await input.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellation) != head.Length || !head.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            throw new BackupInvalidException("The file is not an encrypted GovShare backup (no GSBK1 header).");
        }

        var salt = head[Magic.Length..];
        using var aes = new AesGcm(Derive(keyFile, salt), TagBytes);
        var header = new byte[5];
        var cipher = new byte[ChunkBytes];
        var clear = new byte[ChunkBytes];
        var tag = new byte[TagBytes];
        for (long counter = 0; ; counter++)
        {
            if (await input.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cancellation) != header.Length)
            {
                throw new BackupInvalidException($"The encrypted backup is truncated: it ends after chunk {counter} without its final chunk.");
            }

            var final = header[0] == 1;
            var length = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(1));
            if (header[0] > 1 || length is < 0 or > ChunkBytes
                || await input.ReadAtLeastAsync(cipher.AsMemory(0, length), length, throwOnEndOfStream: false, cancellation) != length
                || await input.ReadAtLeastAsync(tag, TagBytes, throwOnEndOfStream: false, cancellation) != TagBytes)
            {
                throw new BackupInvalidException($"The encrypted backup is truncated or damaged at chunk {counter}.");
            }

            try
            {
                aes.Decrypt(Nonce(counter), cipher.AsSpan(0, length), tag, clear.AsSpan(0, length), Aad(salt, counter, final));
            }
            catch (AuthenticationTagMismatchException)
            {
                throw new BackupInvalidException($"The encrypted backup does not decrypt at chunk {counter}: the key is not the one it was written with, or the file was changed.");
            }

            await plain.WriteAsync(clear.AsMemory(0, length), cancellation);
            if (final)
            {
                if (await input.ReadAsync(header.AsMemory(0, 1), cancellation) != 0)
                {
                    throw new BackupInvalidException("The encrypted backup has data after its final chunk.");
                }

                return;
            }
        }
    }

    private static byte[] Derive(byte[] keyFile, byte[] salt)
    {
        if (keyFile.Length != KeyBytes)
        {
            throw new ArgumentException($"A backup key is {KeyBytes} bytes.", nameof(keyFile));
        }

        return HKDF.DeriveKey(HashAlgorithmName.SHA256, keyFile, 32, salt, Encoding.ASCII.GetBytes("govshare-backup/1"));
    }

    private static byte[] Nonce(long counter)
    {
        var nonce = new byte[12];
        BinaryPrimitives.WriteInt64BigEndian(nonce.AsSpan(4), counter);
        return nonce;
    }

    private static byte[] Aad(byte[] salt, long counter, bool final)
    {
        var aad = new byte[Magic.Length + salt.Length + 9];
        Magic.CopyTo(aad, 0);
        salt.CopyTo(aad, Magic.Length);
        BinaryPrimitives.WriteInt64BigEndian(aad.AsSpan(Magic.Length + salt.Length), counter);
        aad[^1] = final ? (byte)1 : (byte)0;
        return aad;
    }
}
