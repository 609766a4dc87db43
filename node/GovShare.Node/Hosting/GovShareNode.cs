using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Compare;
using GovShare.Node.Evaluation;
using GovShare.Node.Exchange;
using GovShare.Node.Hierarchy;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using GovShare.Node.Management;
using GovShare.Node.OperatorConsole;
using GovShare.Node.Requests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Hosting;

/// <summary>
/// One GovShare node: Kestrel with an mTLS exchange listener and a loopback management
/// listener, over one data folder. The CLI's <c>node run</c> and the tests both start nodes
/// through this class, so what the tests exercise is what runs.
/// </summary>
public sealed class GovShareNode : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly NodeDataFolder _data;
    private bool _started;

    private GovShareNode(WebApplication app, NodeOptions options, NodeDataFolder data)
    {
        _app = app;
        Options = options;
        _data = data;
    }

    public NodeOptions Options { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// Builds a node from configuration: the host's defaults (appsettings.json in the content
    /// root, environment variables, command-line) plus <paramref name="overrides"/>. With
    /// <c>rebuildState</c> the state database is set aside first, so that the change-log replay at
    /// open rebuilds it whole (<c>govshare node rebuild-state</c>).
    /// </summary>
    /// <exception cref="NodeConfigurationException">A setting is missing or invalid; every fault is listed.</exception>
    public static GovShareNode Build(string[] args, IEnumerable<KeyValuePair<string, string?>>? overrides = null, Action<IServiceCollection>? services = null, bool rebuildState = false)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args });
        if (overrides is not null)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        builder.AddGovShareLogging();

        var options = builder.Configuration.GetSection(NodeOptions.Section).Get<NodeOptions>() ?? new NodeOptions();
        var errors = NodeOptionsValidator.Validate(options);
        var stateOptions = builder.Configuration.GetSection(StateOptions.Section).Get<StateOptions>() ?? new StateOptions();
        errors.AddRange(stateOptions.Validate());
        errors.AddRange(NodeTelemetry.Validate(builder.Configuration));
        errors.AddRange(NodeLogging.Validate(builder.Configuration));
        if (rebuildState && stateOptions.IsPostgreSql)
        {
            // PostgreSQL is durable and shared: there is no cache to rebuild, and one replica's log is not the node's history.
            errors.Add($"{StateOptions.Section}:{nameof(StateOptions.Backend)}: rebuild-state rebuilds the embedded LiteDB state; with {StateOptions.PostgreSql} the database is the durable state (restore it with PostgreSQL's own backups).");
        }

        var upstream = builder.Configuration.GetSection(UpstreamOptions.Section).Get<UpstreamOptions>() ?? new UpstreamOptions();
        var trust = TrustMaterial.Load(options, errors, string.IsNullOrWhiteSpace(upstream.ParentTrustAnchor)
            ? null
            : new ParentTrustAnchor(upstream.ParentTrustAnchor, upstream.ParentDivisionCode, $"{UpstreamOptions.Section}:{nameof(UpstreamOptions.ParentTrustAnchor)}"));
        if (errors.Count > 0)
        {
            throw new NodeConfigurationException(errors);
        }

        NodeDataFolder data;
        try
        {
            data = NodeDataFolder.Open(options.DataPath, rebuildState, stateOptions);
        }
        catch (Exception ex) when (ex is DataFolderInUseException or IOException or UnauthorizedAccessException)
        {
            throw new NodeConfigurationException([$"{NodeOptions.Section}:{nameof(NodeOptions.DataPath)}: {ex.Message}"]);
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or ArgumentException)
        {
            // A wrong connection string (ArgumentException) or an unreachable database: name the setting, show no password.
            throw new NodeConfigurationException([$"{StateOptions.Section}:{nameof(StateOptions.ConnectionString)}: the state database cannot be opened: {ex.Message}"]);
        }

        var exchangeConnections = new ConnectionLimit(options.MaxConnections);
        // Blocks kept for reuse: a pull in flight holds ~5 (a 64 KiB flush), so 256 (4 MiB) serve ~50 at once.
        var tlsRecords = new TlsRecordPool(keep: 256);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Idle and slow connections are what an attacker holds cheaply: close idle ones soon and
            // cut an upload that trickles, so a push slot is never held by a stalled body.
            kestrel.Limits.KeepAliveTimeout = options.KeepAliveTimeout;
            kestrel.Limits.MinRequestBodyDataRate = new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(options.MinRequestBodyBytesPerSecond, options.MinRequestBodyGrace);
            kestrel.Listen(NodeOptionsValidator.ParseEndpoint(options.ExchangeUrl, "https")!, listen =>
            {
                listen.Use(exchangeConnections.Middleware);
                listen.Use(ListenerTag.Tag(Listener.Exchange));
                // Before UseHttps, which takes the connection's pool from here: answers leave in 16 KiB TLS records.
                listen.Use(tlsRecords.Middleware);
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    HandshakeTimeout = options.HandshakeTimeout,
                    ServerCertificate = trust.NodeCertificate,
                    ServerCertificateChain = trust.NodeChain,
                    SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                    // Ask every client for a certificate, but judge it in the authentication
                    // handler against our own anchors and CRLs: a refused caller then gets a
                    // problem+json saying why, not a bare handshake failure. Kestrel's own check
                    // would consult the system store.
                    ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                    ClientCertificateValidation = (_, _, _) => true,
                });
            });
            var managementTls = options.ManagementUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
            kestrel.Listen(NodeOptionsValidator.ParseEndpoint(options.ManagementUrl, managementTls ? "https" : "http")!, listen =>
            {
                listen.Use(ListenerTag.Tag(Listener.Management));
                if (managementTls)
                {
                    // Operators are people with their own certificates; probes connect without one.
                    listen.UseHttps(new HttpsConnectionAdapterOptions
                    {
                        HandshakeTimeout = options.HandshakeTimeout,
                        ServerCertificate = trust.NodeCertificate,
                        ServerCertificateChain = trust.NodeChain,
                        SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                        ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                        ClientCertificateValidation = (_, _, _) => true,
                    });
                }
            });
        });

        // One transport for both listeners (Kestrel's socket options are per server). Inline, a read's
        // completion runs the request itself and the answer is sent from the request's thread: one
        // thread-pool hand-off a read and one a flush fewer. That thread is still a pool thread (the
        // runtime hands socket events from its epoll thread to the pool unless
        // DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1, which the node must not get): request paths
        // that block (a push's fsync, the change log's wait) block only themselves, as before.
        // docs/ARCHITECTURE.md, "Transport scheduling".
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = options.InlineScheduling);

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(data);
        builder.Services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));
        builder.Services.AddSingleton<OperatorToken>();
        // The dataset folder may lie outside the data folder (Exchange:DatasetPath): the backup copies it from where it is.
        builder.Services.AddSingleton(provider => new NodeBackup(
            provider.GetRequiredService<NodeDataFolder>(),
            provider.GetRequiredService<LogWriter>(),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<Exchange.Datasets.DatasetStore>().Folder,
            // The manifest is signed with the node's key, read when a backup is taken (a renewed certificate counts from then on).
            () => X509Certificate2.CreateFromPemFile(options.Certificate, options.Key)));
        builder.Services.AddGovShareHealth();
        // The host's stop bounds the server's drain: in-flight exchanges get DrainTimeout, then
        // their connections are cut; closing checkpoints and the Kafka flush follow (LogCloser).
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.DrainTimeout);
        // ASP.NET's authentication stack brings data protection; keep its keys with the node's
        // state, not in the service account's home folder.
        builder.Services.AddDataProtection().PersistKeysToFileSystem(new DirectoryInfo(data.SubFolder("keys")));
        builder.Services.AddGovShareIdentity(trust, options);
        builder.Services.AddGovShareCatalog(builder.Configuration);
        builder.Services.AddGovShareLogs(builder.Configuration);
        builder.Services.AddGovShareRequests(builder.Configuration);
        // The change log wraps the catalog's and the requests' change streams (Art. 28).
        CatalogChangeLog.AddTo(builder.Services);
        RequestChangeLog.AddTo(builder.Services);
        builder.Services.AddGovShareHierarchy(builder.Configuration);
        builder.Services.AddGovShareExchangeApi(builder.Configuration);
        // Art. 42: a child node escalates to its parent's office, read from the links at each escalation.
        builder.Services.AddSingleton(sp => new EscalationTarget(() => sp.GetRequiredService<NodeLinkRegistry>().Parent()?.DivisionCode));
        builder.Services.AddSingleton<IEscalationSource>(sp => new EscalatedViolations(sp.GetRequiredService<ViolationStore>()));
        builder.Services.AddGovShareCompare(builder.Configuration);
        builder.Services.AddGovShareEvaluation(builder.Configuration);
        builder.Services.AddGovShareTelemetry(builder.Configuration, options.DivisionCode);
        builder.Services.AddGovShareOperatorConsole();
        // Registered before AddProblemDetails' own writer, so it is asked first (and always writes).
        builder.Services.AddSingleton<IProblemDetailsWriter, ProblemJsonWriter>();
        builder.Services.AddProblemDetails(problems => problems.CustomizeProblemDetails = Customize);
        // Statistics and evaluation asked for while the aggregates' first fold at start runs: 503 + Retry-After, not a wait of minutes.
        builder.Services.AddExceptionHandler<LogsApi.AggregatesNotReadyHandler>();
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
        services?.Invoke(builder.Services);

        WebApplication app;
        try
        {
            app = builder.Build();
            Configure(app, options);
        }
        catch
        {
            // Whatever stops the start must not keep the data folder locked.
            data.Dispose();
            throw;
        }

        return new GovShareNode(app, options, data);
    }

    private static readonly Action<ILogger, string, DateTimeOffset, long, Exception?> NodeRestored = LoggerMessage.Define<string, DateTimeOffset, long>(
        LogLevel.Warning, new EventId(1190, "NodeRestored"), "The data folder {Folder} was restored from a backup taken {Taken} (state at change {Sequence}); each log now holds a restore record naming its restored head and what was taken back from Kafka after it. Anything the source node logged after that and did not ship is not here.");

    private static readonly Action<ILogger, LogKind, long, long, long, Exception?> LogRestored = LoggerMessage.Define<LogKind, long, long, long>(
        LogLevel.Warning, new EventId(1191, "LogRestored"), "The {Log} log was restored through record {Head}; {Refetched} records after it were taken back from Kafka, and the restore record is record {RestoreRecord}.");

    private static readonly Action<ILogger, string, Uri, Uri, Exception?> Serving = LoggerMessage.Define<string, Uri, Uri>(
        LogLevel.Information, new EventId(2101, "NodeServing"), "GovShare node {Division} serving departments on {ExchangeAddress} (mTLS), management on {ManagementAddress}. Ctrl+C stops it.");

    private static readonly Action<ILogger, string, int, int, Exception?> FolderMigrated = LoggerMessage.Define<string, int, int>(
        LogLevel.Warning, new EventId(1001, "DataFolderMigrated"), "The data folder {Folder} was migrated from format version {From} to {To}; a release older than this one can no longer open it.");

    /// <summary>The marker by which WebApplication knows the application placed the authentication middleware itself.</summary>
    private const string AuthenticationMiddlewareSetKey = "__AuthenticationMiddlewareSet";

    private static void Configure(WebApplication app, NodeOptions options)
    {
        // ASP.NET's exception handler and status-code pages, entered only by a request that needs one (ProblemBoundary).
        ProblemBoundary.Use(app, new ExceptionHandlerOptions
        {
            StatusCodeSelector = ex => ex is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError,
        });
        app.UseRouting();
        // Which listener serves an endpoint, and who calls, is the node's gate's: an endpoint of the
        // other listener is answered 404 as unknown; then the certificate handler on a connection's
        // first request, its remembered verdict after, listener, revocation and registration on
        // every request (CallerGate); whether a node is linked and whom it may act for, the hierarchy's
        // (OnBehalfOfMiddleware). ASP.NET's authentication middleware is not in the pipeline: with
        // no default scheme it would authenticate nothing and still cost ~1.5 us a request (a
        // service look-up and an awaiting frame; profile-small-exchanges.txt). The framework adds it
        // by itself, first of all, unless this marker — the one UseAuthentication() sets — is
        // present; if a later ASP.NET renames the marker, the middleware comes back, as a cost only.
        // No endpoint carries authorization metadata, so no authorization middleware runs either.
        ((IApplicationBuilder)app).Properties[AuthenticationMiddlewareSetKey] = true;
        app.UseMiddleware<CallerGate>();
        app.UseMiddleware<OnBehalfOfMiddleware>();
        app.UseMiddleware<NodeRoutingMiddleware>();

        var operators = app.MapManagementApi();
        app.MapGovShareMetrics();
        operators.MapCatalogOperatorApi();
        operators.MapRequestsOperatorApi();
        operators.MapEvaluationApi(app);
        operators.MapHierarchyOperatorApi();
        // The operator console (issue 25): the management listener, signed in with an operator certificate only.
        app.MapOperatorConsole();
        // Every exchange endpoint is behind CallerGate (registered departments) and OnBehalfOfMiddleware (linked nodes).
        var exchange = app.MapGroup("");
        exchange.MapIdentityApi(options.DivisionCode);
        var queried = exchange.MapGroup("").AddEndpointFilter<QueryLogFilter>();
        queried.MapCatalogApi();
        queried.MapHierarchyApi();
        exchange.MapExchangeApi();
        exchange.MapCompareApi();
        exchange.MapRequestsApi();
        exchange.MapLogsApi();

        // Eager: the operator token file exists as soon as the node does, and the logs are
        // recovered and verified now — a damaged or tampered log stops the start here
        // (LogCorruptedException) instead of failing every request that needs a log.
        var data = app.Services.GetRequiredService<NodeDataFolder>();
        if (data.FormatFound is { } found && found < DataFolderFormat.Current)
        {
            FolderMigrated(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(DataFolderFormat).FullName!), data.Path, found, DataFolderFormat.Current, null);
        }

        _ = app.Services.GetRequiredService<OperatorToken>();
        var logs = app.Services.GetRequiredService<LogWriter>();
        // A restored folder: the chains verified above (the writer's recovery); now each log says it was restored, before anything serves.
        // With Kafka, each log first takes back what the node shipped after its restored head (LogRestore).
        RestoreLogs(app.Services, data.Path, logs, options);

        _ = app.Services.GetRequiredService<CrlStore>();
        OpenState(app.Services);
        app.Services.GetRequiredService<NodeLinkRegistry>().SeedParent(app.Services.GetRequiredService<IOptions<UpstreamOptions>>().Value, options.DivisionCode);
    }

    private static void RestoreLogs(IServiceProvider services, string dataPath, LogWriter logs, NodeOptions options)
    {
        if (!File.Exists(Path.Combine(dataPath, LogRestore.MarkerFile)))
        {
            return;
        }

        using var certificate = X509CertificateLoader.LoadCertificateFromFile(options.Certificate);
        using var key = certificate.GetECDsaPublicKey();
        if (LogRestore.MarkIfRestored(dataPath, logs, services.GetRequiredService<TimeProvider>(), services.GetRequiredService<IOptions<KafkaOptions>>().Value, key) is { } restored)
        {
            var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(LogRestore).FullName!);
            NodeRestored(logger, dataPath, restored.From.BackupTaken, restored.From.ChangeSequence, null);
            foreach (var log in restored.Logs)
            {
                LogRestored(logger, log.Log, log.Restored.Sequence, log.Refetched, log.RestoreRecord, null);
            }
        }
    }

    /// <summary>
    /// Opens the node's state before anything runs concurrently: every store is constructed here,
    /// on this one thread, so each LiteDB collection is created with its indexes and each document
    /// type mapped before a request or a background service can touch it (issue 18: a collection's
    /// creating write racing a reader of it corrupts the file). Then the change log's records newer
    /// than the state's watermark are replayed, and the stores' snapshots hold the result.
    /// </summary>
    private static void OpenState(IServiceProvider services)
    {
        _ = services.GetRequiredService<LogWriter>();
        _ = services.GetRequiredService<ICatalogChangeSink>();
        _ = services.GetRequiredService<IRequestChangeSink>();
        _ = services.GetRequiredService<ViolationStore>();
        _ = services.GetRequiredService<CatalogAggregate>();
        _ = services.GetRequiredService<CatalogFilings>();
        _ = services.GetRequiredService<CollectorDesignations>();
        // Listens to the catalog's writes from now on: each department's Art. 11 catalog update is recorded as it happens.
        _ = services.GetRequiredService<DutyChangeRegister>();
        _ = services.GetRequiredService<Exchange.Datasets.DatasetStore>();
        _ = services.GetServices<IStateReplayer>().ToList();
        services.GetRequiredService<ChangeLogReplay>().Run();
        if (services.GetRequiredService<NodeDataFolder>().State is PostgresStateStore shared)
        {
            // Every store is constructed and registered its reload: now follow the other replicas.
            shared.Logger = services.GetRequiredService<ILoggerFactory>().CreateLogger<PostgresStateStore>();
            shared.StartFollowing();
        }
    }

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        _started = true;
        return _app.StartAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    /// <summary>Says, once started, where the node serves: a log entry like the rest, so that JSON logs stay JSON on every line.</summary>
    public void LogServing() =>
        Serving(_app.Services.GetRequiredService<ILoggerFactory>().CreateLogger<GovShareNode>(), Options.DivisionCode, ExchangeAddress, ManagementAddress, null);

    /// <summary>Runs until Ctrl+C or SIGTERM.</summary>
    public Task RunAsync()
    {
        _started = true;
        return _app.RunAsync();
    }

    /// <summary>The exchange listener's address, with the real port once started.</summary>
    public Uri ExchangeAddress => Address("https");

    /// <summary>The management listener's address, with the real port once started.</summary>
    public Uri ManagementAddress => Options.ManagementUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
        ? Address("https", skip: 1)
        : Address("http");

    /// <summary>
    /// Disposes the node. Stop it first (<see cref="StopAsync"/>): only a stop drains the listeners, writes the logs'
    /// closing checkpoints and ships what Kafka has not confirmed. A node disposed without a stop (a failure path)
    /// is left as a crash would leave it, which the next start recovers from; but its background loops are ended
    /// first, without their stop work, so that none is cut off mid-iteration by a dependency disposed under it or
    /// reported as failed.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_started && !_app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.IsCancellationRequested)
        {
            var timeout = _app.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout;
            var loops = _app.Services.GetServices<IHostedService>().OfType<NodeBackgroundService>().Select(l => l.AbandonAsync(timeout));
            await Task.WhenAll(loops);
        }

        await _app.DisposeAsync();
        // Registered as an instance, so the container leaves it to us: last, after every user of it stopped.
        _data.Dispose();
    }

    private Uri Address(string scheme, int skip = 0)
    {
        // Listeners are added exchange first, management second: with both on https the order tells them apart.
        var addresses = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        return new Uri(addresses.Where(a => a.StartsWith(scheme + "://", StringComparison.Ordinal)).Skip(skip).First());
    }

    private static void Customize(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        if (problem.Type is null || problem.Type.StartsWith("https://tools.ietf.org/", StringComparison.Ordinal))
        {
            problem.Type = problem.Status switch
            {
                StatusCodes.Status404NotFound => ProblemTypes.NotFound,
                StatusCodes.Status405MethodNotAllowed => ProblemTypes.MethodNotAllowed,
                StatusCodes.Status413PayloadTooLarge => ProblemTypes.PayloadTooLarge,
                StatusCodes.Status415UnsupportedMediaType => ProblemTypes.UnsupportedMediaType,
                >= 400 and < 500 => ProblemTypes.MalformedRequest,
                _ => ProblemTypes.Internal,
            };
        }

        problem.Instance ??= context.HttpContext.Request.Path;
        NodeMetrics.Refused(problem.Type, ListenerTag.Of(context.HttpContext));
    }
}
