using System.Net;
using System.Net.Sockets;
using GovShare.Node.Hosting;
using GovShare.Node.Tests.Functional;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Hosting;

/// <summary>
/// A large answer leaves the exchange listener in full TLS records (16 KiB of plaintext), not in the
/// 4 KiB of Kestrel's own memory blocks (<see cref="TlsRecordPool"/>): seen on the wire, from the
/// record headers the client's socket receives, which TLS sends in the clear.
/// </summary>
public sealed class TlsRecordTests
{
    [Fact]
    public async Task LargePull_MostOfItsBytesLeaveInRecordsOfMoreThanTwelveKiB()
    {
        await using var f = await StartAsync();
        // Past PullAnswerCache's 64 KB, so the answer is encoded and written as it is read.
        Assert.Equal(HttpStatusCode.OK, (await f.PushAsync(Unconditional, 20_000)).StatusCode);
        var records = new RecordSizes();
        using var client = TestNode.ClientFor(f.Pki, f.Node.ExchangeAddress, f.User.Certificate, handler => handler.ConnectCallback = async (context, cancellation) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await socket.ConnectAsync(context.DnsEndPoint, cancellation);
            return new ReadTap(new NetworkStream(socket, ownsSocket: true), records.Received);
        });

        var before = records.Snapshot();
        using var pull = await client.SendAsync(Pull(Unconditional, "social-assistance"));
        Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        var (_, batches) = await ReadAsync(pull);
        Assert.Equal(20_000, batches.Sum(b => b.Length));

        var received = records.Snapshot().Skip(before.Count).ToList();
        var bytes = received.Sum(r => (long)r);
        Assert.True(bytes > 500_000, $"the pull's answer is large ({bytes} bytes in records)");
        var inFullRecords = received.Where(r => r > 12 * 1024).Sum(r => (long)r);
        Assert.True(inFullRecords > bytes * 0.9, $"{inFullRecords} of {bytes} bytes came in records of more than 12 KiB; the largest was {received.Max()} bytes, {received.Count} records");
        // None larger than TLS allows (2^14 bytes of plaintext plus at most 256 of expansion).
        Assert.All(received, r => Assert.InRange(r, 1, (16 * 1024) + 256));
    }

    [Fact]
    public void Pool_ABlockDisposedTwice_IsRentedOnce()
    {
        using var pool = new TlsRecordPool(keep: 8);
        var first = pool.Rent();
        first.Dispose();
        first.Dispose();

        Assert.Equal(1, pool.Kept);
        using var a = pool.Rent();
        using var b = pool.Rent();
        Assert.False(a.Memory.Span.Overlaps(b.Memory.Span));
        Assert.Equal(TlsRecordPool.BlockSize, a.Memory.Length);
        Assert.Equal(0, pool.Kept);
    }

    [Fact]
    public void Pool_KeepsAtMostItsShare_AndRefusesMoreThanABlock()
    {
        using var pool = new TlsRecordPool(keep: 2);
        var blocks = Enumerable.Range(0, 5).Select(_ => pool.Rent()).ToList();
        blocks.ForEach(b => b.Dispose());

        Assert.Equal(2, pool.Kept);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(TlsRecordPool.BlockSize + 1));
    }

    /// <summary>The lengths of the TLS records received, in order (header: type, version, 2-byte length).</summary>
    private sealed class RecordSizes
    {
        private readonly List<int> _lengths = [];
        private readonly byte[] _header = new byte[5];
        private int _headerRead;
        private int _bodyLeft;

        public List<int> Snapshot()
        {
            lock (_lengths)
            {
                return [.. _lengths];
            }
        }

        public void Received(ReadOnlySpan<byte> bytes)
        {
            lock (_lengths)
            {
                while (!bytes.IsEmpty)
                {
                    if (_bodyLeft > 0)
                    {
                        var skip = Math.Min(_bodyLeft, bytes.Length);
                        _bodyLeft -= skip;
                        bytes = bytes[skip..];
                        continue;
                    }

                    var take = Math.Min(5 - _headerRead, bytes.Length);
                    bytes[..take].CopyTo(_header.AsSpan(_headerRead));
                    _headerRead += take;
                    bytes = bytes[take..];
                    if (_headerRead == 5)
                    {
                        _headerRead = 0;
                        _bodyLeft = (_header[3] << 8) | _header[4];
                        _lengths.Add(_bodyLeft);
                    }
                }
            }
        }
    }
}
