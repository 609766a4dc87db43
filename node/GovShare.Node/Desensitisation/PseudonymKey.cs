using System.Security.Cryptography;
using System.Text;

namespace GovShare.Node.Desensitisation;

/// <summary>
/// The HMAC key of <see cref="MaskingKind.Pseudonym"/> for one user department, derived from
/// the node's secret with HKDF-SHA256 (info = the department's unified social credit code).
/// The same person therefore gets the same pseudonym in everything one department pulls from
/// this node, and unrelated pseudonyms in what two departments pull, so departments cannot
/// join their outputs on it. Never logged, never serialised.
/// </summary>
public sealed class PseudonymKey
{
    private const string Salt = "govshare/pseudonym/v1";

    private readonly byte[] _key;

    private PseudonymKey(byte[] key, string department)
    {
        _key = key;
        Department = department;
    }

    /// <summary>The user department the key belongs to (its credit code).</summary>
    public string Department { get; }

    internal ReadOnlySpan<byte> Key => _key;

    /// <summary>Derives the key of <paramref name="department"/> from the node's pseudonym secret.</summary>
    public static PseudonymKey Derive(ReadOnlySpan<byte> nodeSecret, string department)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(department);
        if (nodeSecret.Length < 32)
        {
            throw new ArgumentException("The node's pseudonym secret must be at least 32 bytes.", nameof(nodeSecret));
        }

        var key = new byte[32];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, nodeSecret, key, Encoding.UTF8.GetBytes(Salt), Encoding.UTF8.GetBytes(department));
        return new PseudonymKey(key, department);
    }

    public override string ToString() => $"PseudonymKey({Department}, ***)";
}

/// <summary>
/// The node's pseudonym secret: 32 random bytes in a file of the data folder, created on first
/// use (owner read/write only). Replacing it changes every pseudonym the node hands out.
/// </summary>
public static class PseudonymSecret
{
    /// <summary>The file name inside the data folder.</summary>
    public const string FileName = "pseudonym.secret";

    /// <summary>Reads the secret from <paramref name="folder"/>, creating it when absent.</summary>
    public static byte[] LoadOrCreate(string folder)
    {
        var path = Path.Combine(folder, FileName);
        if (File.Exists(path))
        {
            var existing = File.ReadAllBytes(path);
            return existing.Length >= 32
                ? existing
                : throw new InvalidDataException($"The pseudonym secret '{path}' is shorter than 32 bytes; restore it from backup or delete it to start new pseudonyms.");
        }

        var secret = RandomNumberGenerator.GetBytes(32);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using var file = new FileStream(path, options);
            file.Write(secret);
            file.Flush(true);
            return secret;
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another start won the race; its secret is the one.
            return File.ReadAllBytes(path);
        }
    }
}
