using System.Globalization;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GovShare.Benchmarks.Hosting;

/// <summary>
/// <c>lookups-cpu [calls]</c>: per-request look-ups of the node's pipeline on a one-row pull, each as the
/// pipeline made it before fix/feat19 and as it makes it now, by thread CPU per call: the listener's tag
/// (asked twice a request now, three times before), where an exchange keeps its id and step (request
/// items under a string key before; request features now, fix/alloc19 - fix/feat19's object-keyed items
/// are measured too), and the pull endpoint's eleven services (none looked up per request now). They run
/// inside one request of a real Kestrel connection (plain HTTP on loopback, the connection tagged with
/// its listener as the node tags it), so every look-up goes through Kestrel's own feature collections,
/// the request's service scope and the generic dispatch the runtime does for them.
/// </summary>
internal static class RequestLookupsCpuRun
{
    private const string OldListenerKey = "govshare.listener";
    private const string OldItemKey = "govshare.exchange-id";
    private static readonly object NewItemKey = new();

    public static int Run(string[] args)
    {
        var calls = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2_000_000;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0, listen =>
        {
            // The old tag beside the new one: the same connection answers both kinds of look-up.
            listen.Use(next => connection =>
            {
                connection.Items[OldListenerKey] = Listener.Exchange;
                return next(connection);
            });
            listen.Use(ListenerTag.Tag(Listener.Exchange));
        }));
        // The pull endpoint's eleven service parameters: singletons, looked up through the request's scope.
        builder.Services.AddSingleton<S<byte>>().AddSingleton<S<sbyte>>().AddSingleton<S<short>>().AddSingleton<S<ushort>>()
            .AddSingleton<S<int>>().AddSingleton<S<uint>>().AddSingleton<S<long>>().AddSingleton<S<ulong>>()
            .AddSingleton<S<float>>().AddSingleton<S<double>>().AddSingleton<S<decimal>>();
        var app = builder.Build();
        app.UseRouting();
        var lines = new List<string>();
        app.MapGet("/v1/resources/{code}/data", context =>
        {
            Measure(lines, "listener, Get<IConnectionItemsFeature> + string key (before)", calls, () => OldListener(context) == Listener.Exchange ? 1 : 0);
            Measure(lines, "listener, ListenerTag.Of: indexer + object key (now)", calls, () => ListenerTag.Of(context) == Listener.Exchange ? 1 : 0);
            var held = new object();
            Measure(lines, "request items, string key: get, set, get (before)", calls, () =>
            {
                var found = context.Items.TryGetValue(OldItemKey, out _) ? 1 : 0;
                context.Items[OldItemKey] = held;
                return found + (context.Items.TryGetValue(OldItemKey, out _) ? 1 : 0);
            });
            Measure(lines, "request items, object key: get, set, get (fix/feat19, not merged)", calls, () =>
            {
                var found = context.Items.TryGetValue(NewItemKey, out _) ? 1 : 0;
                context.Items[NewItemKey] = held;
                return found + (context.Items.TryGetValue(NewItemKey, out _) ? 1 : 0);
            });
            var step = new Held();
            Measure(lines, "request feature: get, set, get (now)", calls, () =>
            {
                var found = context.Features.Get<Held>() is null ? 0 : 1;
                context.Features.Set(step);
                return found + (context.Features.Get<Held>() is null ? 0 : 1);
            });
            Measure(lines, "pull's 11 services from RequestServices (before)", calls / 4, () => Services(context.RequestServices));
            return context.Response.WriteAsync("done");
        });
        app.StartAsync().GetAwaiter().GetResult();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using (var client = new HttpClient { Timeout = Timeout.InfiniteTimeSpan })
        {
            client.GetStringAsync(new Uri(address + "/v1/resources/A1-1/data")).GetAwaiter().GetResult();
        }

        app.StopAsync().GetAwaiter().GetResult();
        var load = ThreadCost.Load();
        foreach (var line in lines)
        {
            Console.WriteLine($"lookups-cpu, load {load}: {line}");
        }

        return 0;
    }

    private static Listener OldListener(HttpContext context) =>
        context.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(OldListenerKey, out var value) == true && value is Listener listener
            ? listener
            : Listener.Exchange;

    private static int Services(IServiceProvider services) =>
        (services.GetRequiredService<S<byte>>() is null ? 0 : 1) + (services.GetRequiredService<S<sbyte>>() is null ? 0 : 1)
        + (services.GetRequiredService<S<short>>() is null ? 0 : 1) + (services.GetRequiredService<S<ushort>>() is null ? 0 : 1)
        + (services.GetRequiredService<S<int>>() is null ? 0 : 1) + (services.GetRequiredService<S<uint>>() is null ? 0 : 1)
        + (services.GetRequiredService<S<long>>() is null ? 0 : 1) + (services.GetRequiredService<S<ulong>>() is null ? 0 : 1)
        + (services.GetRequiredService<S<float>>() is null ? 0 : 1) + (services.GetRequiredService<S<double>>() is null ? 0 : 1)
        + (services.GetRequiredService<S<decimal>>() is null ? 0 : 1);

    private static void Measure(List<string> lines, string what, int calls, Func<int> once)
    {
        long sink = 0;
        for (var i = 0; i < Math.Min(calls, 200_000); i++)
        {
            sink += once();
        }

        var best = double.MaxValue;
        for (var round = 0; round < 3; round++)
        {
            var (ns, _, sum) = ThreadCost.Measure(calls, _ => once());
            sink += sum;
            best = Math.Min(best, ns);
        }

        lines.Add(FormattableString.Invariant($"{what}: {best:F1} ns thread CPU a call ({sink % 7})"));
    }

    /// <summary>What a request keeps as a feature (the exchange id and step are kept so).</summary>
    private sealed class Held;

    /// <summary>A singleton service type, one per type argument.</summary>
    private sealed class S<T>;
}
