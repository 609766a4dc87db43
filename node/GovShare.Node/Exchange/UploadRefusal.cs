using GovShare.Contract;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Http;

namespace GovShare.Node.Exchange;

/// <summary>The answer to a push or comparison whose body <see cref="UploadCap"/> or Kestrel would not take.</summary>
internal static class UploadRefusal
{
    /// <summary>
    /// An upload that could not be taken: over its cap (413), too slow (408) or broken off (400).
    /// <paramref name="tooLargeTitle"/> names what was too large.
    /// </summary>
    public static Task Refuse(HttpContext context, BadHttpRequestException body, string tooLargeTitle, string notWholeTitle)
    {
        if (UploadCap.IsOverCap(body))
        {
            // The rest of the upload is not wanted: Kestrel drains it briefly so this answer is read, then closes.
            context.Response.Headers.Connection = "close";
            return ExchangeApi.Refuse(context, body.StatusCode, ProblemTypes.PayloadTooLarge, tooLargeTitle, body.Message);
        }

        return ExchangeApi.Refuse(context, body.StatusCode, body.StatusCode == StatusCodes.Status408RequestTimeout ? ProblemTypes.RequestBodyTooSlow : ProblemTypes.MalformedRequest, notWholeTitle, body.Message);
    }

}
