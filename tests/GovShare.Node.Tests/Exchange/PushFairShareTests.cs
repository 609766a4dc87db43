using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Exchange;

/// <summary>
/// The push path shared fairly, on a real node over real TLS: one department's slow or stalled
/// uploads take only its own share of the push slots, a stalled upload is cut by the minimum
/// body data rate, and a resource the catalog marks as large takes more than the node's default cap.
/// </summary>
public sealed class PushFairShareTests
{
    private const string HealthRecords = "101001/000042";

    [Fact]
    public async Task TricklingPushesOfOneDepartment_HoldOnlyItsShare_429ForIt_200ForAnotherDepartment()
    {
        // A long grace: here the trickles must stay open; the data-rate cut is the next test's.
        await using var f = await StartAsync(s =>
        {
            s["Exchange:MaxConcurrentPushes"] = "4";
            s["Exchange:MaxConcurrentPushesPerDepartment"] = "2";
            s["Node:MinRequestBodyGrace"] = "00:05:00";
        });
        CreateOwnResource(f);
        var stream = await StreamAsync(People(50));
        // Two uploads that sent their headers and first bytes and then trickle: each on its own connection.
        await using var first = await TricklingUpload.StartAsync(f, stream);
        await using var second = await TricklingUpload.StartAsync(f, stream);
        using var provider = f.Node.Client(f.Provider.Certificate);

        // Both uploads are in progress at the node (and neither was refused: each still waits for its answer).
        var gate = f.Node.Services.GetRequiredService<GovShare.Node.Exchange.PushGate>();
        await EventuallyAsync(() => Task.FromResult(gate.Held(Caller(f.Provider).Uri) == 2));

        var refused = await provider.PostAsync(DataPath(Unconditional), ArrowContent(stream));
        var problem = await ProblemAssert.IsProblemAsync(refused, HttpStatusCode.TooManyRequests, ProblemTypes.PushShareExceeded);
        Assert.Contains("At most 2 pushes of one department", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("5", refused.Headers.RetryAfter?.ToString());

        // Another department pushes its own resource meanwhile.
        using var other = f.Node.Client(f.Other.Certificate);
        var pushed = await other.PostAsync(DataPath(HealthRecords), ArrowContent(stream));

        Assert.Equal(HttpStatusCode.OK, pushed.StatusCode);
        Assert.Equal(50, f.Node.Services.GetRequiredService<DatasetStore>().Latest(HealthRecords)!.Rows);
    }

    [Fact]
    public async Task StalledPush_CutByTheMinimumBodyDataRate_408_ItsSlotFreed_NothingPublished()
    {
        await using var f = await StartAsync(s =>
        {
            s["Exchange:MaxConcurrentPushesPerDepartment"] = "1";
            s["Node:MinRequestBodyBytesPerSecond"] = "1024";
            s["Node:MinRequestBodyGrace"] = "00:00:02";
        });
        var stream = await StreamAsync(People(50));

        // The node, not the client, ends the stalled upload: this client would wait for ever.
        await using var stalled = await TricklingUpload.StartAsync(f, stream);
        var answer = await stalled.ReadAnswerAsync();

        Assert.StartsWith("HTTP/1.1 408", answer, StringComparison.Ordinal);
        Assert.Contains(ProblemTypes.RequestBodyTooSlow, answer, StringComparison.Ordinal);
        Assert.Null(f.Node.Services.GetRequiredService<DatasetStore>().Latest(Unconditional));
        // The department's one slot is free again.
        using var client = f.Node.Client(f.Provider.Certificate);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync(DataPath(Unconditional), ArrowContent(stream))).StatusCode);
    }

    [Fact]
    public async Task ResourceWithItsOwnCatalogCap_TakesMoreThanTheNodeDefault_OthersStillCapped()
    {
        await using var f = await StartAsync(s => s["Exchange:MaxPushBytes"] = "4096");
        CreateOwnResource(f, maxPushBytes: 16L * 1024 * 1024);
        var large = await StreamAsync(People(2000));
        Assert.True(large.Length > 4096);

        using var other = f.Node.Client(f.Other.Certificate);
        Assert.Equal(HttpStatusCode.OK, (await other.PostAsync(DataPath(HealthRecords), ArrowContent(large))).StatusCode);

        using var provider = f.Node.Client(f.Provider.Certificate);
        var problem = await ProblemAssert.IsProblemAsync(await provider.PostAsync(DataPath(Unconditional), ArrowContent(large)), HttpStatusCode.RequestEntityTooLarge, ProblemTypes.PayloadTooLarge);
        Assert.Contains("Exchange:MaxPushBytes", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task IdleConnectionsBeyondTheCap_ClosedAtOnce_ManagementStillAnswers()
    {
        using var pki = new TestPki();
        // A long handshake timeout, so that only the cap can close a connection here.
        await using var node = await TestNode.StartAsync(pki, configure: s =>
        {
            s["Node:MaxConnections"] = "2";
            s["Node:HandshakeTimeout"] = "00:05:00";
        });
        // Two idle connections that never start a handshake hold the exchange listener's cap.
        using var idle1 = new TcpClient();
        using var idle2 = new TcpClient();
        await idle1.ConnectAsync(IPAddress.Loopback, node.ExchangeAddress.Port);
        await idle2.ConnectAsync(IPAddress.Loopback, node.ExchangeAddress.Port);

        // The next one is closed as it arrives (once the two are counted), without waiting for any timeout.
        var closed = false;
        for (var attempt = 0; attempt < 50 && !closed; attempt++)
        {
            using var third = new TcpClient();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await third.ConnectAsync(IPAddress.Loopback, node.ExchangeAddress.Port);
                closed = await third.GetStream().ReadAsync(new byte[1], timeout.Token) == 0;
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
                // Reset rather than closed, or already while connecting (the listener can close it
                // before the client's connect completes on a loaded machine): refused all the same.
                closed = true;
            }
            catch (OperationCanceledException)
            {
                // Held open: perhaps the two idle ones were not counted yet; try again.
            }
        }

        Assert.True(closed, "a connection beyond the cap was held open");
        using var management = node.ManagementClient();
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("health/ready")).StatusCode);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(CatalogLimits.MaxPushBytes + 1)]
    public void CatalogEntry_PushCapOutOfRange_Refused(long cap)
    {
        using var pki = new TestPki();
        var entry = Entry(HealthRecords, pki.IssueDepartment(), new ShareAttributes(ShareType.Unconditional)) with { MaxPushBytes = cap };

        Assert.Contains(CatalogValidator.Validate(entry), e => e.Path == "maxPushBytes");
    }

    private static void CreateOwnResource(ExchangeFixture f, long? maxPushBytes = null) =>
        Assert.True(f.Node.Services.GetRequiredService<CatalogStore>()
            .Create(Entry(HealthRecords, f.Other, new ShareAttributes(ShareType.Unconditional)) with { MaxPushBytes = maxPushBytes }, Caller(f.Other)).Succeeded);

    private static async Task EventuallyAsync(Func<Task<bool>> condition)
    {
        // Bounded polling for the trickles to reach the node; nothing here is a timing assertion.
        for (var attempt = 0; attempt < 600; attempt++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail("the department's trickling pushes never held its share of the slots");
    }

    /// <summary>
    /// A push as a slow or hostile uploader makes it, on its own mTLS connection: the request
    /// line, headers with the full length, the first bytes of a valid stream, and then nothing.
    /// </summary>
    private sealed class TricklingUpload : IAsyncDisposable
    {
        private readonly TcpClient _tcp;
        private readonly SslStream _tls;

        private TricklingUpload(TcpClient tcp, SslStream tls)
        {
            _tcp = tcp;
            _tls = tls;
        }

        public static async Task<TricklingUpload> StartAsync(ExchangeFixture f, byte[] stream)
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, f.Node.ExchangeAddress.Port);
            var tls = new SslStream(tcp.GetStream());
            var certificate = f.Provider.Certificate;
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                ClientCertificates = [certificate],
                LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate,
                // The node's identity is not what is tested here; the node judges ours.
                RemoteCertificateValidationCallback = (_, server, _, _) => server is not null,
            });
            var head = $"POST /{DataPath(Unconditional)} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {MediaTypes.ArrowStream}\r\nContent-Length: {stream.Length}\r\n\r\n";
            await tls.WriteAsync(Encoding.ASCII.GetBytes(head));
            await tls.WriteAsync(stream.AsMemory(0, 64));
            await tls.FlushAsync();
            return new TricklingUpload(tcp, tls);
        }

        /// <summary>What the node answers before it closes the connection (bounded by a generous timeout).</summary>
        public async Task<string> ReadAnswerAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var answer = new MemoryStream();
            var buffer = new byte[4096];
            try
            {
                int read;
                while ((read = await _tls.ReadAsync(buffer, timeout.Token)) > 0)
                {
                    answer.Write(buffer, 0, read);
                }
            }
            catch (IOException)
            {
                // A reset after the answer: what was read is the answer.
            }

            return Encoding.UTF8.GetString(answer.ToArray());
        }

        public async ValueTask DisposeAsync()
        {
            await _tls.DisposeAsync();
            _tcp.Dispose();
        }
    }
}
