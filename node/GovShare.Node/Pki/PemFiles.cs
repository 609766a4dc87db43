using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace GovShare.Node.Pki;

/// <summary>Writes PEM files the safe way: keys 0600 and never over an existing key.</summary>
public static class PemFiles
{
    /// <summary>Writes a PKCS#8 private key with mode 0600. Throws if the file exists.</summary>
    public static void WritePrivateKey(string path, AsymmetricAlgorithm key)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            using var stream = new FileStream(path, options);
            using var writer = new StreamWriter(stream);
            writer.Write(key.ExportPkcs8PrivateKeyPem());
        }
        catch (IOException) when (File.Exists(path))
        {
            throw new KeyExistsException(path);
        }
    }

    /// <summary>Writes certificates (leaf first, then its chain) as one PEM file, replacing it atomically.</summary>
    public static void WriteCertificates(string path, IEnumerable<X509Certificate2> certificates)
    {
        var temp = path + ".tmp";
        File.WriteAllText(temp, string.Concat(certificates.Select(c => c.ExportCertificatePem() + "\n")));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Writes a DER CRL as PEM, replacing the old one atomically so readers never see half a file.</summary>
    public static void WriteCrl(string path, byte[] der)
    {
        var temp = path + ".tmp";
        File.WriteAllText(temp, PemEncoding.WriteString("X509 CRL", der) + "\n");
        File.Move(temp, path, overwrite: true);
    }
}

/// <summary>A private key file already exists; GovShare never overwrites one.</summary>
public sealed class KeyExistsException(string path)
    : IOException($"The key file '{path}' already exists; GovShare never overwrites a private key. Move it away first if you mean to replace it.");
