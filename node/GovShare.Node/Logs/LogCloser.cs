using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Logs;

/// <summary>
/// Signs each log's closing checkpoint when the node stops. The host stops services in reverse
/// order of registration and registers the server last, so the server's drain of in-flight
/// exchanges and every feature registered after the logs stop first; this is registered after the
/// Kafka relay, so it runs just before the relay's final shipping, which then carries the closing
/// checkpoints. Anything logged later still (in the host's "stopped" phase) gets another one.
/// </summary>
internal sealed class LogCloser(LogWriter writer, ILogger<LogCloser> logger) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await CloseAsync(writer).ConfigureAwait(false);
        LogsDiagnostics.ClosingCheckpoints(logger, writer.DurableSequence(LogKind.Change), writer.DurableSequence(LogKind.Exchange), writer.DurableSequence(LogKind.Query));
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => CloseAsync(writer);

    /// <summary>Appends a checkpoint to every log that has records after its last one; a log that cannot write is left as it is.</summary>
    internal static async Task CloseAsync(LogWriter writer)
    {
        foreach (var log in Enum.GetValues<LogKind>())
        {
            try
            {
                await writer.CheckpointAsync(log).ConfigureAwait(false);
            }
            catch (LogUnavailableException)
            {
                // No space or an I/O error: the health probes say so; nothing more to do while stopping.
            }
        }
    }
}
