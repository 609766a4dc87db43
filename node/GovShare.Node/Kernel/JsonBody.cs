using System.Text.Json;
using GovShare.Contract;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace GovShare.Node.Kernel;

/// <summary>
/// Reads a request body for an endpoint the same way everywhere: the media type checked, the
/// size counted as it arrives (a chunked body has no Content-Length to trust), and every fault a
/// precise problem — 415, 413, or 400 naming the JSON path, never quoting the payload.
/// </summary>
public static class JsonBody
{
    /// <summary>The body as <typeparamref name="T"/>, or the refusal to answer with.</summary>
    public static async Task<(T? Value, IResult? Refusal)> ReadAsync<T>(HttpContext context, long maxBytes, JsonSerializerOptions options)
        where T : class
    {
        if (!IsMediaType(context.Request, "application/json"))
        {
            return (null, UnsupportedMediaType());
        }

        var (body, tooLarge) = await ReadBytesAsync(context, maxBytes);
        if (tooLarge is not null)
        {
            return (null, tooLarge);
        }

        try
        {
            return JsonSerializer.Deserialize<T>(body, options) is { } value
                ? (value, null)
                : (null, Problem.Result(400, ProblemTypes.MalformedRequest, "Malformed JSON", "the body is null"));
        }
        catch (JsonException ex)
        {
            // The path and position only: the message may quote the payload.
            return (null, Problem.Result(400, ProblemTypes.MalformedRequest, "Malformed JSON",
                $"the body is not a valid {typeof(T).Name} at {ex.Path ?? "$"} (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})"));
        }
    }

    /// <summary>The whole body, or a 413 as soon as it passes <paramref name="maxBytes"/>.</summary>
    public static async Task<(byte[] Body, IResult? Refusal)> ReadBytesAsync(HttpContext context, long maxBytes)
    {
        if (context.Request.ContentLength > maxBytes)
        {
            return ([], TooLarge(maxBytes));
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                return ([], TooLarge(maxBytes));
            }

            buffer.Write(chunk, 0, read);
        }

        return (buffer.ToArray(), null);
    }

    public static bool IsMediaType(HttpRequest request, string mediaType) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var parsed)
        && string.Equals(parsed.MediaType.Value, mediaType, StringComparison.OrdinalIgnoreCase);

    public static IResult UnsupportedMediaType() =>
        Problem.Result(415, ProblemTypes.UnsupportedMediaType, "Unsupported media type", "send application/json");

    public static IResult TooLarge(long maxBytes) =>
        Problem.Result(413, ProblemTypes.PayloadTooLarge, "Body too large", $"at most {maxBytes} bytes");
}
