using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace GovShare.Adapters.Tests;

/// <summary>
/// A throwaway PostgreSQL cluster on loopback, from Debian's postgresql package: initdb into a
/// temporary folder owned by the postgres user, pg_ctl start on a free port, stopped and deleted
/// after. Tests run as root in CI, and PostgreSQL refuses to run as root, hence runuser.
/// If the server cannot be started the tests using it fail with the reason (tests/run.sh installs
/// the package): a missing database must never read as a passing round trip.
/// </summary>
public sealed class PostgresServer : IDisposable
{
    private readonly string _bin;
    private readonly bool _asRoot;

    public PostgresServer()
        : this(password: null)
    {
    }

    private PostgresServer(string? password)
    {
        _bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(b => File.Exists(Path.Combine(b, "initdb"))).OrderDescending().FirstOrDefault() ?? ""
            : "";
        if (_bin.Length == 0)
        {
            throw new InvalidOperationException("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install Debian's 'postgresql' package (tests/run.sh does).");
        }

        _asRoot = Environment.UserName == "root";
        DataPath = Path.Combine(Path.GetTempPath(), $"govshare-pg-{Guid.NewGuid():N}");
        Directory.CreateDirectory(DataPath);
        if (_asRoot)
        {
            Run("chown", ["postgres:postgres", DataPath], asPostgres: false);
        }

        Password = password;
        if (password is null)
        {
            Run(Path.Combine(_bin, "initdb"), ["-D", DataPath, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
        }
        else
        {
            // initdb reads the password from a file the postgres user can read; it is not kept.
            var passwordFile = Path.Combine(Path.GetTempPath(), $"govshare-pgpw-{Guid.NewGuid():N}");
            File.WriteAllText(passwordFile, password + "\n");
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            }
            try
            {
                Run(Path.Combine(_bin, "initdb"), ["-D", DataPath, "-U", "postgres", "-A", "scram-sha-256", $"--pwfile={passwordFile}", "--no-sync", "-E", "UTF8", "--locale=C"]);
            }
            finally
            {
                File.Delete(passwordFile);
            }
        }

        Port = FreePort();
        Run(Path.Combine(_bin, "pg_ctl"), ["-D", DataPath, "-l", Path.Combine(DataPath, "server.log"), "-w", "-t", "60",
            "-o", $"-p {Port} -k {DataPath} -c listen_addresses=127.0.0.1 -c fsync=off", "start"]);
    }

    /// <summary>
    /// A cluster whose user <c>postgres</c> logs in with <paramref name="password"/> (SCRAM): a
    /// wrong password is then refused as a department's server refuses it. (A factory: xunit wants
    /// a class fixture to have one public constructor.)
    /// </summary>
    public static PostgresServer WithPassword(string password) => new(password);

    public string DataPath { get; }
    public int Port { get; }
    public string? Password { get; }
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false" + (Password is null ? "" : $";Password={Password}");

    public void Dispose()
    {
        try
        {
            Run(Path.Combine(_bin, "pg_ctl"), ["-D", DataPath, "-m", "immediate", "-w", "stop"]);
        }
        finally
        {
            Directory.Delete(DataPath, recursive: true);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Run(string program, string[] arguments, bool asPostgres = true)
    {
        var start = new ProcessStartInfo(asPostgres && _asRoot ? "runuser" : program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        if (asPostgres && _asRoot)
        {
            foreach (var a in new[] { "-u", "postgres", "--", program })
            {
                start.ArgumentList.Add(a);
            }
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Cannot start {program}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{Path.GetFileName(program)} did not finish within 2 minutes.");
        }

        if (process.ExitCode != 0)
        {
            var log = Path.Combine(DataPath, "server.log");
            throw new InvalidOperationException($"The test PostgreSQL server could not be set up: {Path.GetFileName(program)} exited {process.ExitCode}: {error.Result}{output.Result}{(File.Exists(log) ? File.ReadAllText(log) : "")}");
        }
    }
}
