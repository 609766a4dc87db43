using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace GovShare.Node.Kernel;

/// <summary>
/// One query parameter's values exactly as <c>HttpRequest.Query[name]</c> gives them, without
/// parsing the whole query into a collection (a query feature, a dictionary, every name and value
/// decoded) when a scan of the raw query string gives the same: a one-row pull reads two
/// parameters (<c>node</c> in routing, <c>items</c> in the decision) and nothing else of its query.
/// The scan compares names as the collection does (ordinal, ignoring case) and decodes the value it
/// returns as the collection does ('+' a space, then percent-escapes). It answers only when no name
/// in the query is escaped or holds a '+' (such a name may decode to this one) and the name is given
/// at most once; otherwise the values are read from the parsed collection, as before.
/// </summary>
public static class QueryValues
{
    public static StringValues Of(HttpRequest request, string name)
    {
        ArgumentNullException.ThrowIfNull(request);
        var raw = request.QueryString.Value;
        if (string.IsNullOrEmpty(raw))
        {
            return StringValues.Empty;
        }

        var rest = raw.AsSpan(raw[0] == '?' ? 1 : 0);
        ReadOnlySpan<char> found = default;
        var seen = false;
        while (!rest.IsEmpty)
        {
            var amp = rest.IndexOf('&');
            var pair = amp < 0 ? rest : rest[..amp];
            rest = amp < 0 ? [] : rest[(amp + 1)..];
            var equals = pair.IndexOf('=');
            var key = equals < 0 ? pair : pair[..equals];
            if (key.IndexOfAny('%', '+') >= 0)
            {
                return request.Query[name];
            }

            if (!key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (seen)
            {
                // Repeated: the collection gathers the values in order.
                return request.Query[name];
            }

            seen = true;
            found = equals < 0 ? [] : pair[(equals + 1)..];
        }

        return seen ? new StringValues(Decode(found)) : StringValues.Empty;
    }

    /// <summary>A value decoded as the parsed query decodes it (QueryStringEnumerable): '+' is a space, then percent-escapes.</summary>
    private static string Decode(ReadOnlySpan<char> value)
    {
        if (value.IndexOfAny('%', '+') < 0)
        {
            return value.ToString();
        }

        return value.Contains('+') ? Uri.UnescapeDataString(value.ToString().Replace('+', ' ')) : Uri.UnescapeDataString(value);
    }
}
