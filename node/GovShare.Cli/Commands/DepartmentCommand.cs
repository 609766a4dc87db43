using System.CommandLine;
using System.Data.Common;
using System.Security.Cryptography.X509Certificates;
using GovShare.Adapters;
using GovShare.Contract;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace GovShare.Cli.Commands;

/// <summary>
/// What the department commands (push, pull, catalog, sync) share: the connection to the node
/// from govshare.department.json or options, and turning failures into messages and exit codes.
/// </summary>
internal static class DepartmentCommand
{
    public static readonly Option<string> Config = new("--config") { Description = $"The department's configuration file.", DefaultValueFactory = _ => GovShare.Contract.DepartmentConnection.FileName, Recursive = true };
    public static readonly Option<string?> Node = new("--node") { Description = "The node's https address (overrides the file)." };
    public static readonly Option<string?> Cert = new("--cert") { Description = "The department's PEM certificate (overrides the file)." };
    public static readonly Option<string?> Key = new("--key") { Description = "The department's PEM private key (overrides the file)." };
    public static readonly Option<string?> Ca = new("--ca") { Description = "PEM CA bundle: the only trust anchors for the node (overrides the file)." };

    public static void AddOptions(Command command)
    {
        command.Add(Config);
        command.Add(Node);
        command.Add(Cert);
        command.Add(Key);
        command.Add(Ca);
    }

    public static DepartmentConnection Load(ParseResult parse)
    {
        var node = parse.GetValue(Node);
        Uri? uri = null;
        if (node is not null && !Uri.TryCreate(node, UriKind.Absolute, out uri))
        {
            throw new DepartmentConnectionException([$"--node: '{node}' is not an address."]);
        }

        var connection = DepartmentConnection.Load(parse.GetValue(Config)!, uri, parse.GetValue(Cert), parse.GetValue(Key), parse.GetValue(Ca));

        // Each file is read once per command and shared: the CA bundle by the head start below and by
        // the HTTP client; the certificate and key (a PEM parse and a PKCS#12 round trip) by the check
        // and the client. A wrong file is a settings error that names it (exit 2), before any connection.
        var anchors = DepartmentCredentials.ReadAnchors(connection.Ca);
        PreloadSystemTrustStore(anchors);
        return connection with { Credentials = DepartmentCredentials.Load(connection, anchors) };
    }

    /// <summary>
    /// Starts loading the system trust store on another thread. .NET on Linux loads all of it
    /// (/etc/ssl/certs, about 150 certificates) in a process's first X509 chain build, whatever the
    /// chain's trust mode, and SslStream builds one for the node's certificate before our own check
    /// (which trusts only the CA file). In a push that load was on the critical path, between the
    /// catalog request and its answer (GOVSHARE_TRACE); started here, it overlaps with reading the
    /// settings, the source and the database connection. Nothing is trusted because of it: the
    /// chain built here trusts only the CA file, and its result is not used.
    /// </summary>
    private static void PreloadSystemTrustStore(X509Certificate2Collection anchors)
    {
        if (anchors.Count == 0)
        {
            return; // DepartmentCredentials.Load reports the CA file
        }

        _ = Task.Run(() =>
        {
            try
            {
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(anchors);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                chain.ChainPolicy.DisableCertificateDownloads = true;
                chain.Build(anchors[0]);
            }
            catch (System.Security.Cryptography.CryptographicException)
            {
                // Only a head start: the TLS handshake builds its own chain.
            }

            PhaseTrace.Mark("system trust store loaded (head start)");
        });
    }

    /// <summary>What a failed push or sync did not do, said after its fault.</summary>
    public const string NothingPushedOrWritten = "Nothing was pushed or written.";

    /// <summary>
    /// What the running command did not do when it failed, or null for a command with nothing to say (a
    /// catalog or inbox call): <see cref="RunAsync"/> sets it, and a pull, once it knows its target, says
    /// where the rows did not go ("nothing was pushed" would be untrue of a pull, which writes, and of a
    /// comparison, whose data is never pushed). One command per process.
    /// </summary>
    public static string? NothingDone { get; set; } = NothingPushedOrWritten;

    /// <summary><see cref="NothingDone"/> as the end of a message (a space first), or nothing.</summary>
    public static string NothingDoneTail => NothingDone is { } said ? " " + said : "";

    /// <summary>Opens a database connection: <c>sqlite:</c> a file path, <c>postgres:</c> an Npgsql connection string (or libpq's form, or a URI).</summary>
    public static (DbConnection Connection, SqlDialectKind Dialect) OpenDatabase(string? sqlite, string? postgres)
    {
        if (sqlite is not null)
        {
            return (new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = sqlite, Pooling = false }.ToString()), SqlDialectKind.Sqlite);
        }

        return (DatabaseErrors.Open(postgres ?? throw new ArgumentException("Give --sqlite or --postgres.")), SqlDialectKind.PostgreSql);
    }

    /// <summary>Runs a department command; every failure becomes a readable message and its exit code, followed by <paramref name="nothingDone"/> (or what the command set in <see cref="NothingDone"/> since) where the command stopped before its work was done.</summary>
    public static async Task<int> RunAsync(Func<Task<int>> action, string? nothingDone = NothingPushedOrWritten)
    {
        NothingDone = nothingDone;
        // System.CommandLine 2.0.0 installs its Ctrl+C/SIGTERM handling only once the action has
        // returned its task; until the action's first real await a signal killed the process
        // outright, with no clean-up (a pull's .partial was left behind). Return the task first.
        await Task.Yield();
        try
        {
            return await action();
        }
        catch (Exception ex) when (ex is DepartmentConnectionException or MappingException or ArgumentException or FormatException or CatalogCheckException or SqlTargetException)
        {
            await Console.Error.WriteLineAsync(GovShareCommand.Readable(ex));
            return ExitCodes.Usage;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            await Console.Error.WriteLineAsync(ex.Message + NothingDoneTail);
            return ExitCodes.Usage;
        }
        catch (ConversionFailedException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            return ExitCodes.DataRejected;
        }
        catch (InvalidDataException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message + NothingDoneTail);
            return ExitCodes.DataRejected;
        }
        catch (NodeRefusedException ex)
        {
            await Console.Error.WriteLineAsync(ProblemText.Describe(ex.Status, ex.Body));
            return ExitCodes.Failed;
        }
        catch (HttpRequestException ex) when (ex.InnerException is System.Security.Authentication.AuthenticationException)
        {
            // The handshake failed: the node's certificate does not chain to the configured CA, or
            // names another host. The node answered, so this is a setting to fix, not an outage.
            await Console.Error.WriteLineAsync("The TLS handshake with the node failed: its certificate does not chain to the CA bundle given by 'ca' (or --ca), "
                + "or is not issued for the host in 'node'. Check both settings in govshare.department.json.");
            return ExitCodes.Usage;
        }
        catch (HttpRequestException ex)
        {
            await Console.Error.WriteLineAsync($"The node cannot be reached: {Reason(ex).TrimEnd('.')}.{NothingDoneTail}");
            return ExitCodes.Unreachable;
        }
        catch (TaskCanceledException ex) when (ex.InnerException is TimeoutException)
        {
            await Console.Error.WriteLineAsync("The node did not answer in time (it may be overloaded or unreachable)." + NothingDoneTail);
            return ExitCodes.Unreachable;
        }
        catch (NpgsqlException ex)
        {
            var (message, exitCode) = DatabaseErrors.Describe(ex);
            await Console.Error.WriteLineAsync(message);
            return exitCode;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DbException)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            return ExitCodes.Failed;
        }
    }

    /// <summary>The innermost socket message ("Connection refused"), without .NET's "see inner exception".</summary>
    private static string Reason(Exception ex)
    {
        var inner = ex;
        while (inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        return inner.Message;
    }

    /// <summary>
    /// Makes <paramref name="command"/> one call to the node as the department: prints a JSON answer
    /// indented (or the raw body, to <paramref name="output"/>'s file when given), a refusal readably.
    /// </summary>
    public static void Call(Command command, Func<ParseResult, Func<HttpClient, Task<HttpResponseMessage>>> call, Option<string?>? output = null, TableSpec? table = null)
    {
        AddOptions(command);
        var json = new Option<bool>("--json") { Description = "Print the node's JSON answer (for scripts) instead of a table." };
        if (table is not null)
        {
            command.Add(json);
        }

        command.SetAction((parse, cancellation) => RunAsync(async () =>
        {
            var config = Load(parse);
            using var http = config.CreateHttpClient(TimeSpan.FromSeconds(60));
            using var response = await call(parse)(http);
            var body = await response.Content.ReadAsByteArrayAsync(cancellation);
            if (!response.IsSuccessStatusCode)
            {
                throw new NodeRefusedException(response.StatusCode, System.Text.Encoding.UTF8.GetString(body));
            }

            if (output is not null && parse.GetValue(output) is { } file)
            {
                await File.WriteAllBytesAsync(file, body, cancellation);
                await Console.Error.WriteLineAsync($"Wrote {body.Length} bytes to {file}.");
            }
            else if (table is not null && !parse.GetValue(json) && response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.Ordinal) == true && body.Length > 0)
            {
                using var document = System.Text.Json.JsonDocument.Parse(body);
                TableOutput.Print(Console.Out, document.RootElement, table);
            }
            else if (response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.Ordinal) == true && body.Length > 0)
            {
                using var document = System.Text.Json.JsonDocument.Parse(body);
                Console.WriteLine(DepartmentJson.Indented(document.RootElement, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping));
            }
            else
            {
                await using var stdout = Console.OpenStandardOutput();
                await stdout.WriteAsync(body, cancellation);
            }

            if (response.Headers.ETag is { } etag)
            {
                await Console.Error.WriteLineAsync($"ETag: {etag.Tag}");
            }

            return ExitCodes.Ok;
        }, nothingDone: null));
    }
}
