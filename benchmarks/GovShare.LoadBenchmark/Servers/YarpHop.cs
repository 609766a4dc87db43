using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Configuration;

namespace GovShare.LoadBenchmark.Servers;

/// <summary>
/// <c>serve-yarp</c>: the forwarding baseline, a minimal YARP reverse proxy with an mTLS listener
/// in front of the raw server, presenting its own client certificate upstream.
/// </summary>
public static class YarpHop
{
    public const string Role = "serve-yarp";

    public static async Task<int> RunAsync(string configPath)
    {
        var config = ServerConfig.Read(configPath);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        RawServer.ConfigureMutualTls(builder, config);
        var clientCertificate = ServerConfig.LoadCertificate(config.ClientCertificate, config.ClientKey);
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(config.TrustAnchors);
        builder.Services.AddReverseProxy()
            .LoadFromMemory(
                [new RouteConfig { RouteId = "all", ClusterId = "raw", Match = new RouteMatch { Path = "{**rest}" } }],
                [new ClusterConfig { ClusterId = "raw", Destinations = new Dictionary<string, DestinationConfig> { ["raw"] = new() { Address = config.Upstream } } }])
            .ConfigureHttpClient((_, handler) =>
            {
                handler.SslOptions.ClientCertificates = [clientCertificate];
                handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
                handler.SslOptions.RemoteCertificateValidationCallback = (_, server, sent, _) =>
                {
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                    foreach (var element in sent?.ChainElements ?? (IEnumerable<X509ChainElement>)[])
                    {
                        chain.ChainPolicy.ExtraStore.Add(element.Certificate);
                    }

                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return server is not null && chain.Build(new X509Certificate2(server));
                };
            });
        await using var app = builder.Build();
        app.MapReverseProxy();
        await app.StartAsync();
        ServerConfig.Ready(new Uri(app.Urls.First()));
        await ServerConfig.WaitForStopAsync();
        await app.StopAsync();
        return 0;
    }
}
