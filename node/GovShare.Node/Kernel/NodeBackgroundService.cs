using Microsoft.Extensions.Hosting;

namespace GovShare.Node.Kernel;

/// <summary>
/// A node's background loop. Ending because the node stops is not a failure: the loop's task then completes
/// rather than being cancelled, so a host that was disposed without a stop first (the host logs a cancelled
/// loop as "BackgroundService failed" unless its own StopAsync ran) stays quiet. <see cref="AbandonAsync"/> ends
/// the loop without the service's stop work (no flushes, no checkpoints): what a dispose without stop needs before
/// the loop's dependencies are disposed under it.
/// </summary>
public abstract class NodeBackgroundService : BackgroundService
{
    private readonly CancellationTokenSource _abandoned = new();

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, _abandoned.Token);
        try
        {
            await RunAsync(ending.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ending.IsCancellationRequested)
        {
            // Stopped or abandoned: the loop ends as asked.
        }
    }

    /// <summary>The loop; <paramref name="stoppingToken"/> is cancelled when the node stops or the loop is abandoned.</summary>
    protected abstract Task RunAsync(CancellationToken stoppingToken);

    /// <summary>Ends the loop without the service's stop work and waits for it, at most <paramref name="timeout"/>; false if it did not end by then.</summary>
    internal async Task<bool> AbandonAsync(TimeSpan timeout)
    {
        await _abandoned.CancelAsync().ConfigureAwait(false);
        if (ExecuteTask is not { } running)
        {
            return true;
        }

        try
        {
            await running.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (Exception)
        {
            // A real failure of the loop: the host logs it as such (it is not the dispose's to report).
        }

        return true;
    }

    public override void Dispose()
    {
        base.Dispose();
        _abandoned.Dispose();
        GC.SuppressFinalize(this);
    }
}
