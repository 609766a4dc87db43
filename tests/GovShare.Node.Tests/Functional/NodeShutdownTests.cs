using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Catalog;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Exchange;
using Xunit.Abstractions;

namespace GovShare.Node.Tests.Functional;

/// <summary>
/// The <c>govshare node run</c> process stopped as Kubernetes stops it — SIGTERM — while departments
/// push and pull: it stops taking connections, lets the exchanges in progress finish, signs its
/// closing checkpoints and exits 0 within the drain timeout; every acknowledged exchange is logged.
/// </summary>
public sealed class NodeShutdownTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task NodeProcess_SignalUnderLoad_DrainsExitsZeroAndLogsEveryAcknowledgedExchange(string signal)
    {
        if (signal == "INT")
        {
            Loopback.AssertSigIntDelivered();
        }

        var settings = TestNode.DefaultSettings(_pki, "530100");
        var exchangePort = Loopback.FreePort();
        var managementPort = Loopback.FreePort();
        settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{exchangePort}";
        settings["Node:ManagementUrl"] = $"http://127.0.0.1:{managementPort}";
        // Longer than the default 20 s: on a loaded machine the node may take seconds to act on the signal, and the
        // gated push must still be inside the drain when the test opens its gate.
        var drain = TimeSpan.FromSeconds(60);
        settings["Node:DrainTimeout"] = "00:01:00";
        var provider = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
        var user = _pki.IssueDepartment(name: "Kunming Civil Affairs Bureau");
        var acknowledged = new ConcurrentBag<string>();
        var node = await NodeProcess.StartAsync(settings, managementPort);
        await using (node)
        {
            await node.RegisterAsync(settings["Node:DataPath"]!, provider, user);

            var address = new Uri($"https://localhost:{exchangePort}/");
            using var providerClient = TestNode.ClientFor(_pki, address, provider.Certificate);
            using var userClient = TestNode.ClientFor(_pki, address, user.Certificate);
            using var slowClient = TestNode.ClientFor(_pki, address, provider.Certificate);
            var entry = ExchangeFixture.Entry(ExchangeFixture.Unconditional, provider, new ShareAttributes(ShareType.Unconditional));
            Assert.Equal(HttpStatusCode.Created, (await providerClient.PostAsJsonAsync("v1/catalog", entry, CatalogJson.Options)).StatusCode);
            var body = await ExchangeFixture.StreamAsync(ExchangeFixture.People(2000));
            Assert.Equal(HttpStatusCode.OK, (await providerClient.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional), ExchangeFixture.ArrowContent(body))).StatusCode);

            using var stop = new CancellationTokenSource();
            var pushesPaused = false;
            var pushesInFlight = 0;
            async Task Load(HttpClient client, bool push)
            {
                while (!stop.IsCancellationRequested)
                {
                    if (push && Volatile.Read(ref pushesPaused))
                    {
                        await Task.Delay(20);
                        continue;
                    }

                    if (push)
                    {
                        Interlocked.Increment(ref pushesInFlight);
                    }

                    try
                    {
                        using var response = push
                            ? await client.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional, "mode=append"), ExchangeFixture.ArrowContent(body), stop.Token)
                            : await client.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "shutdown-test"), stop.Token);
                        var content = await response.Content.ReadAsByteArrayAsync(stop.Token);
                        if (response.StatusCode == HttpStatusCode.OK && (push || EndsWithEndOfStream(content)))
                        {
                            acknowledged.Add(response.Headers.GetValues("GovShare-Exchange-Id").Single());
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or IOException)
                    {
                        // Refused or cut after the stop: never acknowledged, so the department retries elsewhere.
                    }
                    finally
                    {
                        if (push)
                        {
                            Interlocked.Decrement(ref pushesInFlight);
                        }
                    }
                }
            }

            var workers = Enumerable.Range(0, 4).Select(i => Load(i % 2 == 0 ? providerClient : userClient, push: i % 2 == 0)).ToList();
            while (acknowledged.Count < 20)
            {
                await Task.Delay(50);
            }

            // One push is mid-body when the signal arrives: the drain must let it finish. The load's
            // pushes pause meanwhile, so the one temporary dataset file is this push's: proof that
            // the node is writing it (not merely that the client sent half), whatever the load.
            Volatile.Write(ref pushesPaused, true);
            while (Volatile.Read(ref pushesInFlight) > 0)
            {
                await Task.Delay(20);
            }

            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var halfSent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var inFlight = slowClient.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional, "mode=append"), new GatedContent(body, halfSent, gate.Task));
            await halfSent.Task;
            var datasets = Path.Combine(settings["Node:DataPath"]!, "datasets");
            var writing = DateTime.UtcNow + TimeSpan.FromMinutes(1);
            while (!Directory.EnumerateFiles(datasets, "*" + DatasetStore.TempExtension).Any())
            {
                Assert.True(DateTime.UtcNow < writing, "the node never began writing the gated push");
                await Task.Delay(20);
            }

            Volatile.Write(ref pushesPaused, false);
            var signalled = Stopwatch.StartNew();
            await node.SignalAsync(signal);

            // The listeners stop taking connections while the push is still held: a new client is refused. How soon
            // the node acts on the signal depends on the machine's load, so look until it does, within half the drain.
            // A client per attempt, so each is a new connection, never a kept-alive one.
            var refusedBy = DateTime.UtcNow + drain / 2;
            while (true)
            {
                try
                {
                    using var fresh = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
                    using var _ = await fresh.GetAsync(new Uri($"http://127.0.0.1:{managementPort}/health/ready"));
                }
                catch (HttpRequestException)
                {
                    break;
                }

                Assert.True(DateTime.UtcNow < refusedBy, $"a new connection was still taken {drain / 2} after SIG{signal}");
                await Task.Delay(200);
            }

            Assert.False(node.Process.HasExited, "the node exited while a push was still in progress");
            gate.SetResult();
            using var finished = await inFlight;
            Assert.True(finished.StatusCode == HttpStatusCode.OK, $"the push in flight at the signal was answered {(int)finished.StatusCode}: {await finished.Content.ReadAsStringAsync()}\n{string.Join('\n', node.Output)}");
            acknowledged.Add(finished.Headers.GetValues("GovShare-Exchange-Id").Single());

            Assert.True(await node.WaitForExitAsync(drain + TimeSpan.FromSeconds(30)), "the node did not exit after the signal");
            signalled.Stop();
            output.WriteLine($"SIG{signal}: exited {node.Process.ExitCode} {signalled.Elapsed.TotalSeconds:F1} s after the signal (the gated push held it until the listeners refused); {acknowledged.Count} exchanges acknowledged");
            await stop.CancelAsync();
            await Task.WhenAll(workers);
            Assert.True(node.Process.ExitCode == 0, $"exit code {node.Process.ExitCode}:\n{string.Join('\n', node.Output)}");
            // Generous: the bound the issue sets is the drain timeout plus a few seconds.
            Assert.True(signalled.Elapsed < drain + TimeSpan.FromSeconds(10), $"stopping took {signalled.Elapsed}");
        }

        var store = LogStore.ForDataFolder(settings["Node:DataPath"]!);
        var records = store.ReadEntries(LogKind.Exchange).Select(e => e.Record).OfType<LogRecord>().ToList();
        var logged = records.Where(r => r.Status == 200).Select(r => r.ExchangeId).ToList();
        Assert.Empty(acknowledged.Except(logged));
        Assert.Equal(logged.Count, logged.Distinct().Count());
        using var certificate = X509CertificateLoader.LoadCertificateFromFile(settings["Node:Certificate"]!);
        using var key = certificate.GetECDsaPublicKey();
        foreach (var log in Enum.GetValues<LogKind>())
        {
            var verification = LogVerifier.VerifyStore(store, log, key);
            Assert.True(verification.Ok, verification.Message);
            // The closing checkpoint ends every log that has records, and its copy beside the log names it.
            if (store.ReadEntries(log).LastOrDefault() is not { } last)
            {
                continue;
            }

            Assert.Equal(LogEntryType.Checkpoint, last.Type);
            Assert.Equal(last.Hash, LogStore.ReadCheckpointCopy(store, log).Entry?.Hash);
        }

        // Nothing half-published: no temporary dataset file is left.
        Assert.Empty(Directory.EnumerateFiles(settings["Node:DataPath"]!, "*" + DatasetStore.TempExtension, SearchOption.AllDirectories));
        Assert.Contains(node.Output, l => l.Contains("closing checkpoints", StringComparison.Ordinal));
    }

    /// <summary>A whole Arrow stream ends with the end-of-stream marker: continuation, then a zero length.</summary>
    private static bool EndsWithEndOfStream(byte[] content) =>
        content.Length >= 8 && content.AsSpan(content.Length - 8).SequenceEqual(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0 });

    /// <summary>An Arrow body sent in two halves: the second only once the test opens the gate.</summary>
    private sealed class GatedContent : HttpContent
    {
        private readonly byte[] _body;
        private readonly TaskCompletionSource _halfSent;
        private readonly Task _gate;

        public GatedContent(byte[] body, TaskCompletionSource halfSent, Task gate)
        {
            _body = body;
            _halfSent = halfSent;
            _gate = gate;
            Headers.ContentType = new MediaTypeHeaderValue(GovShare.Contract.MediaTypes.ArrowStream);
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var half = _body.Length / 2;
            await stream.WriteAsync(_body.AsMemory(0, half));
            await stream.FlushAsync();
            _halfSent.TrySetResult();
            await _gate;
            await stream.WriteAsync(_body.AsMemory(half));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _body.Length;
            return true;
        }
    }
}
