using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace GovShare.Node.Hierarchy;

/// <summary>
/// The department's response body while YARP copies a linked node's answer into it: a bounded pipe that YARP's copy
/// writes into, sent on to the department's response by a drain task of its own, so that YARP reads the next part of
/// the answer while the last part is sent. Why: with <c>Node:InlineScheduling</c> (Kestrel's
/// UnsafePreferInlineScheduling, a per-server setting) a write to the response encrypts and sends on the writing
/// thread, so YARP's copy read and sent in turn and forwarded pulls fell to ~0.8 x a minimal YARP hop on two cores;
/// without the option Kestrel's I/O thread sent while the copy read on. It also counts the bytes handed to the
/// department's response (<see cref="Count"/>).
/// </summary>
/// <remarks>
/// Installed as the request's <see cref="IHttpResponseBodyFeature"/> (<see cref="Install"/>), which is where YARP's
/// <c>context.Response.Body</c> comes from, for one <c>IHttpForwarder.SendAsync</c>; <see cref="EndAsync"/> sends
/// what is left and gives the response back to the server. What must hold, and how:
/// <list type="bullet">
/// <item>Headers: the first write starts the real response on YARP's thread before any byte enters the pipe, as a
/// direct write did, so YARP's and the forwarder's <c>HasStarted</c> checks see the answer begun exactly when a byte
/// was accepted (YARP aborts a begun answer that breaks, and answers 502 itself to one that has not begun).</item>
/// <item>Memory: YARP waits once <see cref="PauseBytes"/> are unsent, so a 1 GB pull passes in bounded memory.</item>
/// <item>The department going away: the drain's failure is kept and YARP's next write throws it as an
/// <see cref="IOException"/>, which YARP classes as the client's (ResponseBodyClient, logged 499), never the linked
/// node's; a failure after YARP's last write makes <see cref="EndAsync"/> return false and the forwarder aborts.</item>
/// <item>Never a short answer taken for whole: the real response is completed (<see cref="CompleteAsync"/>) only when
/// every byte reached it.</item>
/// </list>
/// </remarks>
internal sealed class ForwardedResponseBody : Stream, IHttpResponseBodyFeature
{
    /// <summary>
    /// How much of the answer may wait unsent before YARP's copy waits: eight of YARP's 64 KiB copy buffers, several
    /// TLS records' worth of reads ahead of the send (enough to overlap; more only holds memory per forward).
    /// </summary>
    internal const int PauseBytes = 512 * 1024;

    /// <summary>One of YARP's copy buffers: each pipe segment gathers YARP's writes (HttpClient hands on ~16 KiB TLS records) into one write to the response.</summary>
    private const int SegmentBytes = 64 * 1024;

    private readonly HttpContext _context;
    private readonly IHttpResponseBodyFeature _response;
    private readonly Pipe _pipe = new(new PipeOptions(
        pauseWriterThreshold: PauseBytes,
        resumeWriterThreshold: PauseBytes / 2,
        minimumSegmentSize: SegmentBytes,
        // Both sides resume on the thread pool: the drain must not run on the copying thread (that is the point), and
        // YARP's copy must not run on the drain's when the pipe empties below the resume threshold.
        readerScheduler: PipeScheduler.ThreadPool,
        writerScheduler: PipeScheduler.ThreadPool,
        useSynchronizationContext: false));

    private readonly Task _drain;
    private PipeWriter? _writer;
    private Exception? _failure;
    private bool _started;
    private bool _ended;

    private ForwardedResponseBody(HttpContext context, IHttpResponseBodyFeature response)
    {
        _context = context;
        _response = response;
        _drain = DrainAsync();
    }

    /// <summary>Bytes handed to the department's response (counted as handed on, so a cut answer's record never says less than the department read).</summary>
    public long Count { get; private set; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    Stream IHttpResponseBodyFeature.Stream => this;

    /// <summary>For a caller using the writer instead of the stream (YARP uses the stream); flushed when its user flushes it.</summary>
    PipeWriter IHttpResponseBodyFeature.Writer => _writer ??= PipeWriter.Create(this, new StreamPipeWriterOptions(leaveOpen: true));

    /// <summary>Puts a new body in front of <paramref name="context"/>'s response; <see cref="EndAsync"/> must follow.</summary>
    public static ForwardedResponseBody Install(HttpContext context)
    {
        var body = new ForwardedResponseBody(context, context.Features.GetRequiredFeature<IHttpResponseBodyFeature>());
        context.Features.Set<IHttpResponseBodyFeature>(body);
        return body;
    }

    /// <summary>
    /// Ends the forward's use of the body: no more writes, the drain sends what is left (it fails at once when the
    /// connection was aborted) and is awaited, and the response is the server's again. True when every byte written
    /// reached the department's response; false when the department's side failed, and the answer must then be aborted.
    /// </summary>
    public async ValueTask<bool> EndAsync()
    {
        if (!_ended)
        {
            _ended = true;
            await _pipe.Writer.CompleteAsync();
            await _drain;
            _context.Features.Set(_response);
        }

        return Volatile.Read(ref _failure) is null;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfDrainFailed();
        if (!_started)
        {
            await _response.StartAsync(cancellationToken);
            _started = true;
        }

        var writer = _pipe.Writer;
        buffer.Span.CopyTo(writer.GetSpan(buffer.Length));
        writer.Advance(buffer.Length);
        // Waits only while PauseBytes are unsent; a cancelled wait throws (YARP's activity timeout, the department gone).
        var flushed = await writer.FlushAsync(cancellationToken);
        if (flushed.IsCompleted)
        {
            ThrowIfDrainFailed();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Every write is already handed to the drain, which sends at once; nothing more to push.</summary>
    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        ThrowIfDrainFailed();
        return Task.CompletedTask;
    }

    /// <summary>Kestrel refuses synchronous I/O (AllowSynchronousIO is off), and so does this body.</summary>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("Synchronous writes to a forwarded response are not supported.");

    public override void Flush() => throw new NotSupportedException("Synchronous writes to a forwarded response are not supported.");

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    Task IHttpResponseBodyFeature.StartAsync(CancellationToken cancellationToken) => _response.StartAsync(cancellationToken);

    void IHttpResponseBodyFeature.DisableBuffering() => _response.DisableBuffering();

    Task IHttpResponseBodyFeature.SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken) =>
        SendFileFallback.SendFileAsync(this, path, offset, count, cancellationToken);

    /// <summary>
    /// YARP completes the response itself when the request's body streams (so the department has the whole answer
    /// while the upload ends): everything is sent first, and a short answer is left for the forwarder to abort.
    /// </summary>
    public async Task CompleteAsync()
    {
        if (await EndAsync())
        {
            await _response.CompleteAsync();
        }
    }

    private void ThrowIfDrainFailed()
    {
        if (Volatile.Read(ref _failure) is { } failure)
        {
            // An IOException from a write: YARP classes it as the client's side (ResponseBodyClient), as a failed
            // write to the department's connection was before.
            throw new IOException($"The department's response failed: {failure.Message}", failure);
        }
    }

    /// <summary>Sends what YARP wrote, in order, until the pipe is completed; keeps the first failure and stops.</summary>
    private async Task DrainAsync()
    {
        var reader = _pipe.Reader;
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync();
                foreach (var segment in read.Buffer)
                {
                    Count += segment.Length;
                    await _response.Stream.WriteAsync(segment, _context.RequestAborted);
                }

                reader.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    await reader.CompleteAsync();
                    return;
                }
            }
        }
        catch (Exception e)
        {
            Volatile.Write(ref _failure, e);
            // YARP's waiting or next write sees the pipe completed and throws the failure kept above.
            await reader.CompleteAsync(e);
        }
    }
}
