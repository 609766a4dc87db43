using System.Net;

namespace GovShare.Node.Kernel;

/// <summary>Checks every setting at once, so one failed start lists every fault.</summary>
internal static class NodeOptionsValidator
{
    public static List<string> Validate(NodeOptions options)
    {
        const string s = NodeOptions.Section;
        var errors = new List<string>();
        if (!DivisionCode.IsValid(options.DivisionCode))
        {
            errors.Add($"{s}:{nameof(NodeOptions.DivisionCode)}: '{options.DivisionCode}' is not a six-digit GB/T 2260 division code (e.g. 530100).");
        }
        else if (DivisionCode.IsCounty(options.DivisionCode))
        {
            errors.Add($"{s}:{nameof(NodeOptions.DivisionCode)}: {options.DivisionCode} is a county-level division: counties build no platform of their own and use their prefecture's (Art. 21); register the county's departments at node {DivisionCode.PrefectureOf(options.DivisionCode)}.");
        }

        if (string.IsNullOrWhiteSpace(options.DataPath))
        {
            errors.Add($"{s}:{nameof(NodeOptions.DataPath)}: missing; set it to the node's data folder.");
        }

        if (ParseEndpoint(options.ExchangeUrl, "https") is null)
        {
            errors.Add($"{s}:{nameof(NodeOptions.ExchangeUrl)}: '{options.ExchangeUrl}' is not an https://<ip-or-localhost>:<port> address.");
        }

        if (ParseEndpoint(options.ManagementUrl, "http") is null && ParseEndpoint(options.ManagementUrl, "https") is null)
        {
            errors.Add($"{s}:{nameof(NodeOptions.ManagementUrl)}: '{options.ManagementUrl}' is not an http:// or https://<ip-or-localhost>:<port> address.");
        }

        if (string.IsNullOrWhiteSpace(options.CrlPath))
        {
            errors.Add($"{s}:{nameof(NodeOptions.CrlPath)}: missing; set it to the folder of CRLs.");
        }
        else if (!Directory.Exists(options.CrlPath))
        {
            errors.Add($"{s}:{nameof(NodeOptions.CrlPath)}: the folder '{options.CrlPath}' does not exist.");
        }

        if (options.CrlGrace < TimeSpan.Zero || options.CrlGrace > TimeSpan.FromDays(7))
        {
            errors.Add($"{s}:{nameof(NodeOptions.CrlGrace)}: {options.CrlGrace} is outside 0 to 7 days.");
        }

        if (options.ExpiryWarning <= TimeSpan.Zero || options.ExpiryWarning > TimeSpan.FromDays(365))
        {
            errors.Add($"{s}:{nameof(NodeOptions.ExpiryWarning)}: {options.ExpiryWarning} is outside 1 second to 365 days.");
        }

        if (options.CrlExpiryWarning <= TimeSpan.Zero || options.CrlExpiryWarning > TimeSpan.FromDays(365))
        {
            errors.Add($"{s}:{nameof(NodeOptions.CrlExpiryWarning)}: {options.CrlExpiryWarning} is outside 1 second to 365 days.");
        }

        if (options.MaxConnections < 1)
        {
            errors.Add($"{s}:{nameof(NodeOptions.MaxConnections)}: {options.MaxConnections} must be at least 1.");
        }

        if (options.KeepAliveTimeout <= TimeSpan.Zero || options.HandshakeTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{s}:{nameof(NodeOptions.KeepAliveTimeout)} and {nameof(NodeOptions.HandshakeTimeout)} must be positive.");
        }

        if (options.MinRequestBodyBytesPerSecond < 1 || options.MinRequestBodyGrace <= TimeSpan.FromSeconds(1))
        {
            errors.Add($"{s}:{nameof(NodeOptions.MinRequestBodyBytesPerSecond)} must be at least 1 and {nameof(NodeOptions.MinRequestBodyGrace)} more than 1 s.");
        }

        if (options.DrainTimeout < TimeSpan.Zero || options.DrainTimeout > TimeSpan.FromMinutes(10))
        {
            errors.Add($"{s}:{nameof(NodeOptions.DrainTimeout)}: {options.DrainTimeout} is outside 0 to 10 minutes.");
        }

        if (options.MinFreeBytes < 0)
        {
            errors.Add($"{s}:{nameof(NodeOptions.MinFreeBytes)}: {options.MinFreeBytes} is negative.");
        }

        return errors;
    }

    /// <summary>Parses a listen address; "localhost" means the IPv4 loopback.</summary>
    public static IPEndPoint? ParseEndpoint(string? url, string scheme)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != scheme || uri.AbsolutePath != "/" || uri.Port < 0)
        {
            return null;
        }

        var host = uri.Host.Trim('[', ']');
        var address = host == "localhost" ? IPAddress.Loopback : IPAddress.TryParse(host, out var ip) ? ip : null;
        return address is null ? null : new IPEndPoint(address, uri.Port);
    }
}
