using Microsoft.AspNetCore.Connections;

namespace GovShare.Node.Kernel;

/// <summary>
/// Caps the connections one listener holds at once. Kestrel's own limit counts every listener
/// together, so a flood of idle mTLS connections on the exchange listener would also lock out
/// the health probes and the operators; this counts the exchange listener alone and closes a
/// connection beyond the cap before its TLS handshake costs anything.
/// </summary>
internal sealed class ConnectionLimit(int max)
{
    private int _open;

    /// <summary>Connections held now.</summary>
    public int Open => Volatile.Read(ref _open);

    public Func<ConnectionDelegate, ConnectionDelegate> Middleware => next => async connection =>
    {
        if (Interlocked.Increment(ref _open) > max)
        {
            Interlocked.Decrement(ref _open);
            connection.Abort(new ConnectionAbortedException($"The listener holds its maximum of {max} connections."));
            return;
        }

        try
        {
            await next(connection);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    };
}
