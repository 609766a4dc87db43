using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Kernel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Exchange;

/// <summary>Wires the exchange core into a host.</summary>
public static class ExchangeServiceCollectionExtensions
{
    /// <summary>
    /// Registers the <see cref="DatasetStore"/> (needs a <see cref="NodeDataFolder"/> in the
    /// container) and a start-up step that removes the stray files of interrupted pushes before
    /// the host serves requests. Endpoints are mapped separately.
    /// </summary>
    public static IServiceCollection AddGovShareExchange(this IServiceCollection services, DatasetStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(provider =>
        {
            return new DatasetStore(
                provider.GetRequiredService<NodeDataFolder>(),
                options ?? new DatasetStoreOptions(),
                provider.GetRequiredService<TimeProvider>(),
                provider.GetRequiredService<ILogger<DatasetStore>>());
        });
        services.AddHostedService<DatasetStoreRecovery>();
        return services;
    }

    /// <summary>Runs <see cref="DatasetStore.RemoveStrayFiles"/> once, as the host starts.</summary>
    private sealed class DatasetStoreRecovery(DatasetStore store) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            store.RemoveStrayFiles();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
