using System.Security.Cryptography;
using System.Text;
using GovShare.Node.Kernel;

namespace GovShare.Node.Management;

/// <summary>
/// The bearer token of the operator API: random, kept in <c>operator.token</c> (mode 0600)
/// in the data folder, so only an operator who can read the node's files on its host may
/// manage it. The management listener is on loopback by default as well.
/// </summary>
public sealed class OperatorToken
{
    public const string FileName = "operator.token";
    private readonly byte[] _token;

    public OperatorToken(NodeDataFolder data)
    {
        var path = System.IO.Path.Combine(data.Path, FileName);
        if (!File.Exists(path))
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using var stream = new FileStream(path, options);
            stream.Write(Encoding.ASCII.GetBytes(Convert.ToHexString(RandomNumberGenerator.GetBytes(32))));
        }

        _token = Encoding.ASCII.GetBytes(File.ReadAllText(path).Trim());
        Path = path;
    }

    public string Path { get; }

    /// <summary>Constant-time comparison with a presented token.</summary>
    public bool Matches(string? presented) =>
        presented is not null && CryptographicOperations.FixedTimeEquals(_token, Encoding.ASCII.GetBytes(presented.Trim()));

    /// <summary>Reads the token for a client (the CLI) from a data folder.</summary>
    public static string ReadFrom(string dataPath) => File.ReadAllText(System.IO.Path.Combine(dataPath, FileName)).Trim();
}
