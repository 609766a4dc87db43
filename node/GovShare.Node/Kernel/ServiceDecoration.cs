using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Kernel;

/// <summary>Wraps a registered service in a decorator, so a feature can add behaviour to another's seam without the other knowing.</summary>
public static class ServiceDecoration
{
    /// <summary>Replaces the last registration of <typeparamref name="T"/> with <paramref name="wrap"/> around it, as a singleton.</summary>
    public static IServiceCollection Decorate<T>(this IServiceCollection services, Func<IServiceProvider, T, T> wrap)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(wrap);
        var inner = services.Last(d => d.ServiceType == typeof(T));
        services.Remove(inner);
        services.AddSingleton(sp => wrap(sp, (T)(inner.ImplementationInstance
            ?? inner.ImplementationFactory?.Invoke(sp)
            ?? ActivatorUtilities.CreateInstance(sp, inner.ImplementationType!))));
        return services;
    }
}
