using Microsoft.Extensions.Logging;

namespace GovShare.Node.Exchange;

/// <summary>
/// The push and pull endpoints' logger (category <c>GovShare.Node.Exchange</c>), made once per
/// node: the factory's look-up (under its lock) per request was work every exchange paid for a
/// logger that is the same each time.
/// </summary>
internal sealed class ExchangeLogger(ILoggerFactory loggers)
{
    public ILogger Logger { get; } = loggers.CreateLogger("GovShare.Node.Exchange");
}
