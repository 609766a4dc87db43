using System.Net.Sockets;
using Npgsql;

namespace GovShare.Cli.Commands;

/// <summary>
/// A department's PostgreSQL (<c>--postgres</c>, a push's source or a pull's target) failing, said
/// in one line with the documented exit code: a connection string that cannot be read, a login,
/// database, table or column that is wrong (settings: exit 2), a server that cannot be reached or
/// was lost (exit 3, naming the database's host and port, not the node). Npgsql's own messages
/// name neither the option nor the server ("Failed to connect to 127.0.0.1:5433" with the reason
/// only in an inner exception; "28P01: …" with a SQLSTATE in front).
/// </summary>
internal static class DatabaseErrors
{
    /// <summary>
    /// Where the command's database is, for messages: an NpgsqlException does not carry its
    /// connection. A command opens at most one database, so the last one named is the one.
    /// </summary>
    private static string? s_where;

    /// <summary>
    /// A connection for <c>--postgres</c> (Npgsql's form, libpq's key=value form or a postgresql:// URI):
    /// a string that cannot be read is a usage error naming the option.
    /// </summary>
    public static NpgsqlConnection Open(string connectionString)
    {
        var npgsql = PostgresConnectionString.ToNpgsql(connectionString);
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(npgsql);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidCastException or OverflowException)
        {
            // Npgsql's message names the keyword or the position at fault, never the value (a password).
            var reason = GovShareCommand.Readable(ex).TrimEnd('.') + (ex.InnerException is { } inner ? ": " + inner.Message.TrimEnd('.') : "");
            throw new ArgumentException($"--postgres: the connection string cannot be read ({reason}); {PostgresConnectionString.Forms}");
        }

        // A host name holds neither spaces nor '=': such a Host is the rest of a string Npgsql read as
        // one value (it may hold the password, so it is not repeated).
        if (builder.Host is { } host && host.Split(',').Any(h => h.Trim().Any(c => char.IsWhiteSpace(c) || c == '=')))
        {
            throw new ArgumentException($"--postgres: the connection string cannot be read (its Host holds spaces or '='); {PostgresConnectionString.Forms}");
        }

        s_where = $"the PostgreSQL database '{builder.Database ?? builder.Username}' at {builder.Host}:{builder.Port}";
        return new NpgsqlConnection(builder.ConnectionString);
    }

    /// <summary>The one-line message and exit code of a PostgreSQL failure.</summary>
    public static (string Message, int ExitCode) Describe(NpgsqlException exception)
    {
        var where = s_where ?? "the PostgreSQL database";
        if (exception is PostgresException server)
        {
            var text = server.MessageText.TrimEnd('.');
            return server.SqlState switch
            {
                // 28000 invalid authorization (no pg_hba.conf entry), 28P01 wrong password.
                "28P01" or "28000" => ($"{Capital(where)} refused the login: {text}. Check Username and Password in --postgres.", ExitCodes.Usage),
                "3D000" => ($"{Capital(where)} does not exist ({text}). Check Database in --postgres.", ExitCodes.Usage),
                // A table, column, function or other name that is not there; the query's syntax; a right not granted.
                "42P01" or "42703" or "42883" or "42601" or "42501" or "42P02" or "3F000" =>
                    ($"{Capital(where)} refused the statement: {text}. Check --table, --query and the mapping's columns.", ExitCodes.Usage),
                // Class 08 connection exception, 57P0x shut down or starting up, 53300 too many connections.
                var state when state.StartsWith("08", StringComparison.Ordinal) || state.StartsWith("57P", StringComparison.Ordinal) || state == "53300" =>
                    ($"{Capital(where)} cannot be used now: {text}.{DepartmentCommand.NothingDoneTail}", ExitCodes.Unreachable),
                _ => ($"{Capital(where)} refused it: {text}{(server.Detail is { Length: > 0 } detail ? $" ({detail.TrimEnd('.')})" : "")}.{DepartmentCommand.NothingDoneTail}", ExitCodes.Failed),
            };
        }

        if (Innermost(exception) is SocketException or TimeoutException or IOException or EndOfStreamException)
        {
            var reason = Innermost(exception).Message.TrimEnd('.');
            return exception.Message.StartsWith("Failed to connect", StringComparison.Ordinal) || exception.InnerException is TimeoutException
                ? ($"{Capital(where)} cannot be reached: {reason}. Check Host and Port in --postgres, and that the server is running.", ExitCodes.Unreachable)
                : ($"The connection to {where} was lost: {reason}.{DepartmentCommand.NothingDoneTail}", ExitCodes.Unreachable);
        }

        // Npgsql's own refusal before any statement: no password given when the server asks for one.
        return exception.Message.Contains("password", StringComparison.OrdinalIgnoreCase)
            ? ($"{Capital(where)} asks for a password: {exception.Message.TrimEnd('.')}. Give Password in --postgres.", ExitCodes.Usage)
            : ($"{Capital(where)}: {exception.Message.TrimEnd('.')}.", ExitCodes.Failed);
    }

    private static Exception Innermost(Exception exception)
    {
        var inner = exception;
        while (inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        return inner;
    }

    private static string Capital(string text) => char.ToUpperInvariant(text[0]) + text[1..];
}
