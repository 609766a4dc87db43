using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Tests.Hosting;

/// <summary>
/// Traces as a collector receives them: a <c>govshare node run</c> process with
/// <c>Telemetry:OtlpEndpoint</c> set to a collector's base address over http/protobuf posts its
/// spans to <c>/v1/traces</c> of a real OTLP/HTTP receiver (Kestrel, in the test), and the span of
/// a push carries that push's exchange id. The payload is read as protobuf, field by field.
/// </summary>
public sealed class OtlpExportTests : IAsyncLifetime
{
    private readonly TestPki _pki = new();
    private readonly ConcurrentQueue<byte[]> _exports = new();
    private readonly ConcurrentQueue<string> _wrongPaths = new();
    private WebApplication _collector = null!;
    private int _collectorPort;

    public async Task InitializeAsync()
    {
        _collectorPort = Loopback.FreePort();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{_collectorPort}");
        _collector = builder.Build();
        _collector.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            if (context.Request.Method == "POST" && context.Request.Path == "/v1/traces" && context.Request.ContentType == "application/x-protobuf")
            {
                _exports.Enqueue(body.ToArray());
                // An empty ExportTraceServiceResponse: everything accepted.
                context.Response.ContentType = "application/x-protobuf";
                return;
            }

            _wrongPaths.Enqueue($"{context.Request.Method} {context.Request.Path} {context.Request.ContentType}");
            context.Response.StatusCode = StatusCodes.Status404NotFound;
        });
        await _collector.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _collector.DisposeAsync();
        _pki.Dispose();
    }

    [Fact]
    public async Task NodeProcess_WithOtlpHttpEndpoint_ExportsThePushSpanWithItsExchangeId()
    {
        var settings = TestNode.DefaultSettings(_pki, "530100");
        var exchangePort = Loopback.FreePort();
        var managementPort = Loopback.FreePort();
        settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{exchangePort}";
        settings["Node:ManagementUrl"] = $"http://127.0.0.1:{managementPort}";
        // The collector's base address, as operators write it (:4318 in a real deployment).
        settings["Telemetry:OtlpEndpoint"] = $"http://127.0.0.1:{_collectorPort}";
        settings["Telemetry:OtlpProtocol"] = "http";
        var provider = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
        string exchangeId;
        await using (var node = await NodeProcess.StartAsync(settings, managementPort))
        {
            await node.RegisterAsync(settings["Node:DataPath"]!, provider);
            using var client = TestNode.ClientFor(_pki, new Uri($"https://localhost:{exchangePort}/"), provider.Certificate);
            Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("v1/catalog", ExchangeFixture.Entry(ExchangeFixture.Unconditional, provider, new ShareAttributes(ShareType.Unconditional)), CatalogJson.Options)).StatusCode);
            using var pushed = await client.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional), ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync(ExchangeFixture.People(3))));
            Assert.Equal(HttpStatusCode.OK, pushed.StatusCode);
            exchangeId = pushed.Headers.GetValues(GovShareHeaders.ExchangeId).Single();

            // The exporter batches (every 5 s); the stop below flushes whatever is left.
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (PushSpan(exchangeId) is null && DateTime.UtcNow < until)
            {
                await Task.Delay(250);
            }
        }

        Assert.Empty(_wrongPaths);
        Assert.NotEmpty(_exports);
        var span = PushSpan(exchangeId);
        Assert.NotNull(span);
        Assert.Equal("push", span["govshare.exchange.kind"]);
        Assert.Equal(exchangeId, span["govshare.exchange.id"]);
        // ASP.NET Core's request span too, though its Hosting.Diagnostics log category is off by default
        // (NodeLogging): the tracer's own listener is what starts it.
        Assert.Contains(_exports.SelectMany(Spans), s => s.Attributes.GetValueOrDefault("http.route") == "/v1/resources/{code}/data" && s.Attributes.GetValueOrDefault("http.request.method") == "POST");
    }

    /// <summary>The string attributes of the exported span named <c>govshare.exchange push</c> whose exchange id is <paramref name="exchangeId"/>, or null.</summary>
    private Dictionary<string, string>? PushSpan(string exchangeId) =>
        _exports.SelectMany(Spans).FirstOrDefault(s => s.Name == "govshare.exchange push" && s.Attributes.GetValueOrDefault("govshare.exchange.id") == exchangeId).Attributes;

    /// <summary>Every span of an ExportTraceServiceRequest (opentelemetry/proto/collector/trace/v1): resource_spans = 1 → scope_spans = 2 → spans = 2.</summary>
    private static IEnumerable<(string Name, Dictionary<string, string> Attributes)> Spans(byte[] request) =>
        from resourceSpans in Protobuf.Fields(request, 1)
        from scopeSpans in Protobuf.Fields(resourceSpans, 2)
        from span in Protobuf.Fields(scopeSpans, 2)
        select (
            Encoding.UTF8.GetString(Protobuf.Fields(span, 5).Single()),
            // Span.attributes = 9: KeyValue { key = 1, value = 2: AnyValue { string_value = 1 } }; other value kinds left out.
            Protobuf.Fields(span, 9)
                .Select(kv => (Key: Protobuf.Fields(kv, 1).Single(), Value: Protobuf.Fields(kv, 2).Single()))
                .Select(kv => (Key: Encoding.UTF8.GetString(kv.Key), Text: Protobuf.Fields(kv.Value, 1).ToList()))
                .Where(kv => kv.Text.Count == 1)
                .ToDictionary(kv => kv.Key, kv => Encoding.UTF8.GetString(kv.Text[0]), StringComparer.Ordinal));

    /// <summary>Just enough of the protobuf wire format to walk messages: the length-delimited fields of one number.</summary>
    private static class Protobuf
    {
        public static List<byte[]> Fields(byte[] message, int number)
        {
            var found = new List<byte[]>();
            var at = 0;
            while (at < message.Length)
            {
                var key = Varint(message, ref at);
                var (field, wire) = ((int)(key >> 3), (int)(key & 7));
                switch (wire)
                {
                    case 0:
                        Varint(message, ref at);
                        break;
                    case 1:
                        at += 8;
                        break;
                    case 5:
                        at += 4;
                        break;
                    case 2:
                        var length = (int)Varint(message, ref at);
                        if (field == number)
                        {
                            found.Add(message[at..(at + length)]);
                        }

                        at += length;
                        break;
                    default:
                        throw new InvalidDataException($"protobuf wire type {wire} at byte {at}");
                }
            }

            return found;
        }

        private static ulong Varint(byte[] message, ref int at)
        {
            ulong value = 0;
            for (var shift = 0; ; shift += 7)
            {
                var b = message[at++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }
        }
    }
}
