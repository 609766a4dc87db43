using System.IO.Pipelines;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace GovShare.Node.Tests.Exchange;

/// <summary>
/// A push body read from Kestrel's pipe (<see cref="UploadCap.TakeGathered"/>): a read waits for
/// the gather amount or for what it asked, whichever is less, never for more, and the node's cap
/// refuses as it does through <c>Request.Body</c>. The whole push path over TLS is covered by the
/// push tests (ExchangeApiTests, PushFairShareTests' stalled push cut at 408, the fuzz tests).
/// </summary>
public sealed class GatheredUploadTests
{
    private const int Gather = 16 * 1024;

    [Fact]
    public async Task Read_WaitsUntilTheGatherAmountIsThere_ThenTakesAllThatFits()
    {
        var (pipe, upload) = Upload(maxBytes: 1 << 20);
        await pipe.Writer.WriteAsync(new byte[12 * 1024]);

        var buffer = new byte[64 * 1024];
        var read = upload.ReadAsync(buffer.AsMemory());
        Assert.False(read.IsCompleted); // 12 KiB of the 16 KiB to gather

        await pipe.Writer.WriteAsync(Pattern(6 * 1024, 7));
        Assert.Equal(18 * 1024, await read);
        Assert.Equal(Pattern(6 * 1024, 7), buffer[(12 * 1024)..(18 * 1024)]);
    }

    [Fact]
    public async Task Read_AskingLessThanTheGather_ReturnsOnceWhatItAskedIsThere()
    {
        var (pipe, upload) = Upload(maxBytes: 1 << 20);
        await pipe.Writer.WriteAsync(Pattern(8, 1));

        var prefix = new byte[8];
        Assert.Equal(8, await upload.ReadAsync(prefix.AsMemory()));
        Assert.Equal(Pattern(8, 1), prefix);
    }

    [Fact]
    public async Task Read_AtTheBodysEnd_ReturnsWhatIsLeft_ThenZero()
    {
        var (pipe, upload) = Upload(maxBytes: 1 << 20);
        await pipe.Writer.WriteAsync(Pattern(100, 3));
        await pipe.Writer.CompleteAsync();

        var buffer = new byte[64 * 1024];
        Assert.Equal(100, await upload.ReadAsync(buffer.AsMemory()));
        Assert.Equal(0, await upload.ReadAsync(buffer.AsMemory()));
    }

    [Fact]
    public async Task Read_PastTheCap_Refused413()
    {
        var (pipe, upload) = Upload(maxBytes: 10_000);
        await pipe.Writer.WriteAsync(new byte[12_000]);
        await pipe.Writer.CompleteAsync();

        var refused = await Assert.ThrowsAsync<BadHttpRequestException>(() => upload.ReadAsync(new byte[64 * 1024].AsMemory()).AsTask());
        Assert.True(UploadCap.IsOverCap(refused));
    }

    [Fact]
    public void SynchronousRead_Refused()
    {
        var (_, upload) = Upload(maxBytes: 1 << 20);

        Assert.Throws<NotSupportedException>(() => upload.Read(new byte[8], 0, 8));
    }

    private static (Pipe Pipe, UploadCap Upload) Upload(long maxBytes)
    {
        var pipe = new Pipe();
        var context = new DefaultHttpContext();
        context.Features.Set<IRequestBodyPipeFeature>(new BodyPipe(pipe.Reader));
        return (pipe, UploadCap.TakeGathered(context, maxBytes, "At most so many bytes.", Gather));
    }

    private sealed class BodyPipe(PipeReader reader) : IRequestBodyPipeFeature
    {
        public PipeReader Reader => reader;
    }

    private static byte[] Pattern(int length, int seed) => [.. Enumerable.Range(0, length).Select(i => (byte)((i * 31) + seed))];
}
