using System.Globalization;
using System.Text;
using Npgsql;

namespace GovShare.Cli.Commands;

/// <summary>
/// <c>--postgres</c> as psql users write it: besides Npgsql's <c>Host=…;Port=…;…</c>, libpq's
/// <c>host=localhost port=5432 dbname=x user=y</c> and a <c>postgresql://user@host:port/db</c> URI,
/// translated to Npgsql's form. Npgsql itself reads a libpq string as one Host value
/// ("localhost port=5432 dbname=x …") and the connection then fails as "cannot be reached"; the URI
/// it refuses outright. Messages name keywords and positions, never a value (it may be a password).
/// </summary>
internal static class PostgresConnectionString
{
    /// <summary>The forms a reader can give, for messages.</summary>
    public const string Forms = "write it as Host=…;Port=…;Username=…;Password=…;Database=… (Npgsql), "
        + "host=… port=… user=… password=… dbname=… (libpq, as psql takes it) or postgresql://user:password@host:port/dbname";

    /// <summary>libpq's keywords this tool translates (libpq's documentation, "Parameter Key Words").</summary>
    private static readonly string[] Keywords =
    [
        "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "sslmode", "sslrootcert", "sslcert",
        "sslkey", "sslpassword", "connect_timeout", "application_name", "options", "target_session_attrs", "client_encoding", "channel_binding",
    ];

    /// <summary>
    /// Npgsql's form of <paramref name="text"/>: a URI or a libpq key=value string translated, anything
    /// else (Npgsql's own form, with <c>;</c>) returned as it is for Npgsql to read.
    /// </summary>
    /// <exception cref="ArgumentException">A URI or libpq string that cannot be read (the message names the keyword or the fault).</exception>
    public static string ToNpgsql(string text)
    {
        var trimmed = text.Trim();
        if (trimmed.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || trimmed.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase))
        {
            return Build(FromUri(trimmed));
        }

        return IsLibpq(trimmed) ? Build(FromKeyValues(trimmed)) : text;
    }

    /// <summary>
    /// libpq's form has no <c>;</c> and starts with a libpq keyword and <c>=</c>; with more than one
    /// pair, or a keyword Npgsql does not know (dbname, user, sslmode …), Npgsql would misread it.
    /// </summary>
    private static bool IsLibpq(string text)
    {
        if (text.Contains(';', StringComparison.Ordinal))
        {
            return false;
        }

        var equals = text.IndexOf('=', StringComparison.Ordinal);
        return equals > 0 && Keywords.Contains(text[..equals].Trim().ToLowerInvariant(), StringComparer.Ordinal);
    }

    /// <summary>libpq's <c>keyword = value</c> pairs, separated by spaces; a value with spaces in single quotes, <c>\'</c> and <c>\\</c> escaped.</summary>
    private static List<(string Keyword, string Value)> FromKeyValues(string text)
    {
        var pairs = new List<(string, string)>();
        var i = 0;
        while (true)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i == text.Length)
            {
                return pairs;
            }

            var start = i;
            while (i < text.Length && text[i] != '=' && !char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            var keyword = text[start..i];
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            if (i == text.Length || text[i] != '=')
            {
                // The word is not a keyword: most likely the rest of a value with a space in it.
                throw new ArgumentException(pairs.Count == 0
                    ? $"--postgres: the connection string cannot be read: '=' expected after the first word; {Forms}."
                    : $"--postgres: the connection string cannot be read: after {pairs[^1].Item1}= comes a word without '=' (a value with spaces goes in single quotes: {pairs[^1].Item1}='…'); {Forms}.");
            }

            i++;
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            var value = new StringBuilder();
            if (i < text.Length && text[i] == '\'')
            {
                i++;
                while (true)
                {
                    if (i == text.Length)
                    {
                        throw new ArgumentException($"--postgres: the connection string cannot be read: the quoted value of {keyword} has no closing '; {Forms}.");
                    }

                    if (text[i] == '\'')
                    {
                        i++;
                        break;
                    }

                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        i++;
                    }

                    value.Append(text[i++]);
                }
            }
            else
            {
                while (i < text.Length && !char.IsWhiteSpace(text[i]))
                {
                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        i++;
                    }

                    value.Append(text[i++]);
                }
            }

            pairs.Add((keyword.ToLowerInvariant(), value.ToString()));
        }
    }

    /// <summary><c>postgresql://[user[:password]@][host][:port][,host[:port]…][/dbname][?keyword=value&amp;…]</c>, percent-decoded.</summary>
    private static List<(string Keyword, string Value)> FromUri(string text)
    {
        var pairs = new List<(string, string)>();
        var rest = text[(text.IndexOf("://", StringComparison.Ordinal) + 3)..];
        var query = "";
        if (rest.IndexOf('?', StringComparison.Ordinal) is var q and >= 0)
        {
            (rest, query) = (rest[..q], rest[(q + 1)..]);
        }

        var authority = rest;
        if (rest.IndexOf('/', StringComparison.Ordinal) is var slash and >= 0)
        {
            (authority, var database) = (rest[..slash], rest[(slash + 1)..]);
            if (database.Length > 0)
            {
                pairs.Add(("dbname", Decode(database, "the database name")));
            }
        }

        if (authority.LastIndexOf('@') is var at and >= 0)
        {
            var user = authority[..at];
            authority = authority[(at + 1)..];
            if (user.IndexOf(':', StringComparison.Ordinal) is var colon and >= 0)
            {
                pairs.Add(("password", Decode(user[(colon + 1)..], "the password")));
                user = user[..colon];
            }

            if (user.Length > 0)
            {
                pairs.Add(("user", Decode(user, "the user name")));
            }
        }

        if (authority.Length > 0)
        {
            // One host[:port], or several (libpq tries them in turn; so does Npgsql with Host=a:1,b:2).
            var hosts = authority.Split(',').Select(SplitHostPort).ToList();
            if (hosts is [var (host, port)])
            {
                pairs.Add(("host", host));
                if (port is { Length: > 0 })
                {
                    pairs.Add(("port", port));
                }
            }
            else
            {
                pairs.Add(("host", string.Join(',', hosts.Select(h => (h.Host.Contains(':', StringComparison.Ordinal) ? $"[{h.Host}]" : h.Host) + (h.Port is { Length: > 0 } ? ":" + h.Port : "")))));
            }
        }

        foreach (var parameter in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = parameter.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new ArgumentException($"--postgres: the URI's parameters cannot be read (each is keyword=value after '?', joined by '&'); {Forms}.");
            }

            var keyword = Decode(parameter[..equals], "a parameter's name");
            pairs.Add((keyword.ToLowerInvariant(), Decode(parameter[(equals + 1)..], $"the value of {keyword}")));
        }

        return pairs;
    }

    /// <summary><c>host</c>, <c>host:port</c> or <c>[::1]:port</c>.</summary>
    private static (string Host, string? Port) SplitHostPort(string part)
    {
        if (part.StartsWith('['))
        {
            var close = part.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new ArgumentException($"--postgres: an IPv6 address in the URI has no closing ']'; {Forms}.");
            }

            var port = part[(close + 1)..];
            return (part[1..close], port.StartsWith(':') ? port[1..] : null);
        }

        var colon = part.LastIndexOf(':');
        return colon >= 0 ? (Decode(part[..colon], "the host"), part[(colon + 1)..]) : (Decode(part, "the host"), null);
    }

    private static string Decode(string text, string what)
    {
        try
        {
            return Uri.UnescapeDataString(text);
        }
        catch (UriFormatException)
        {
            throw new ArgumentException($"--postgres: {what} in the URI is not percent-encoded properly; {Forms}.");
        }
    }

    /// <summary>Npgsql's connection string of libpq's keywords; an unknown keyword is a usage error naming it.</summary>
    private static string Build(List<(string Keyword, string Value)> pairs)
    {
        var builder = new NpgsqlConnectionStringBuilder();
        var unknown = pairs.Select(p => p.Keyword).Where(k => !Keywords.Contains(k, StringComparer.Ordinal)).Distinct().ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"--postgres: {string.Join(", ", unknown.Select(k => $"'{k}'"))} {(unknown.Count == 1 ? "is not a keyword" : "are not keywords")} this tool takes in libpq's form "
                + $"(it takes {string.Join(", ", Keywords)}); {Forms}.");
        }

        if (pairs.Any(p => p.Keyword == "host") && pairs.Any(p => p.Keyword == "hostaddr"))
        {
            throw new ArgumentException($"--postgres: give host or hostaddr, not both; {Forms}.");
        }

        foreach (var (keyword, value) in pairs)
        {
            switch (keyword)
            {
                case "host" or "hostaddr": builder.Host = value; break;
                case "port": builder.Port = Number(keyword, value); break;
                case "dbname": builder.Database = value; break;
                case "user": builder.Username = value; break;
                case "password": builder.Password = value; break;
                case "passfile": builder.Passfile = value; break;
                case "sslmode": builder.SslMode = SslMode(value); break;
                case "sslrootcert": builder.RootCertificate = value; break;
                case "sslcert": builder.SslCertificate = value; break;
                case "sslkey": builder.SslKey = value; break;
                case "sslpassword": builder.SslPassword = value; break;
                case "connect_timeout": builder.Timeout = Number(keyword, value); break;
                case "application_name": builder.ApplicationName = value; break;
                case "options": builder.Options = value; break;
                case "target_session_attrs": builder.TargetSessionAttributes = value; break;
                case "client_encoding": builder.ClientEncoding = value; break;
                case "channel_binding": builder.ChannelBinding = ChannelBinding(value); break;
                default: break;
            }
        }

        return builder.ConnectionString;
    }

    private static int Number(string keyword, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number
            : throw new ArgumentException($"--postgres: {keyword} must be a whole number; {Forms}.");

    private static SslMode SslMode(string value) => value switch
    {
        "disable" => Npgsql.SslMode.Disable,
        "allow" => Npgsql.SslMode.Allow,
        "prefer" => Npgsql.SslMode.Prefer,
        "require" => Npgsql.SslMode.Require,
        "verify-ca" => Npgsql.SslMode.VerifyCA,
        "verify-full" => Npgsql.SslMode.VerifyFull,
        _ => throw new ArgumentException("--postgres: sslmode is one of disable, allow, prefer, require, verify-ca, verify-full."),
    };

    private static ChannelBinding ChannelBinding(string value) => value switch
    {
        "disable" => Npgsql.ChannelBinding.Disable,
        "prefer" => Npgsql.ChannelBinding.Prefer,
        "require" => Npgsql.ChannelBinding.Require,
        _ => throw new ArgumentException("--postgres: channel_binding is one of disable, prefer, require."),
    };
}
