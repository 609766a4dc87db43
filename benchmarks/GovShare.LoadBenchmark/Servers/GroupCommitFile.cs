using System.Threading.Channels;

namespace GovShare.LoadBenchmark.Servers;

/// <summary>
/// The durable baseline's log: appends queue up, one loop writes everything queued in one write
/// and fsyncs once, then releases every waiter of that group. No timer window: a group is what
/// arrived while the previous fsync ran — the same policy as the node's <c>LogWriter</c>, minus the
/// hash chain and the signed checkpoints, so the difference between the two is what GovShare adds.
/// </summary>
public sealed class GroupCommitFile : IAsyncDisposable
{
    private readonly Channel<(byte[] Record, TaskCompletionSource Done)> _queue = Channel.CreateUnbounded<(byte[], TaskCompletionSource)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly FileStream _file;
    private readonly Task _loop;
    private long _fsyncs;

    public GroupCommitFile(string path)
    {
        _file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0);
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Number of fsyncs so far (the mean group size is appends ÷ this).</summary>
    public long Fsyncs => Interlocked.Read(ref _fsyncs);

    public Task AppendAsync(byte[] record)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite((record, done)), this);
        return done.Task;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop;
        await _file.DisposeAsync();
    }

    private async Task RunAsync()
    {
        var group = new List<TaskCompletionSource>();
        var buffer = new MemoryStream();
        while (await _queue.Reader.WaitToReadAsync())
        {
            group.Clear();
            buffer.SetLength(0);
            while (_queue.Reader.TryRead(out var next))
            {
                buffer.Write(next.Record);
                group.Add(next.Done);
            }

            _file.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
            _file.Flush(flushToDisk: true);
            Interlocked.Increment(ref _fsyncs);
            group.ForEach(d => d.SetResult());
        }
    }
}
