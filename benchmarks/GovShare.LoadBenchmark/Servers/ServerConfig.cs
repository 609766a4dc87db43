using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace GovShare.LoadBenchmark.Servers;

/// <summary>What a child process is told: written as JSON by the driver, read by the child.</summary>
public sealed record ServerConfig
{
    /// <summary>Node settings (<c>Node:*</c>, <c>Kafka:*</c>, …) for <c>serve-node</c>.</summary>
    public Dictionary<string, string?> Settings { get; init; } = [];

    /// <summary>Departments the node registers before it answers (operator's work).</summary>
    public List<DepartmentSpec> Departments { get; init; } = [];

    /// <summary>Catalog entries the node creates (provider's work).</summary>
    public List<ResourceSpec> Resources { get; init; } = [];

    /// <summary>Links to other nodes (operator's work).</summary>
    public List<LinkSpec> Links { get; init; } = [];


    /// <summary>Baseline servers: listen port (0: any).</summary>
    public int Port { get; init; }

    /// <summary>Baseline servers: the server certificate (PEM, chain) and key.</summary>
    public string Certificate { get; init; } = "";

    public string Key { get; init; } = "";

    /// <summary>Baseline servers: root and intermediate CAs that client certificates chain to.</summary>
    public string TrustAnchors { get; init; } = "";

    public string Intermediates { get; init; } = "";

    /// <summary>
    /// Baseline servers: Kestrel's UnsafePreferInlineScheduling, given when the node under test runs with
    /// <c>Node:InlineScheduling</c> (<c>--inline-scheduling</c>), so that a transport setting, which is not the
    /// node's own work, is compared with baselines that have it too.
    /// </summary>
    public bool InlineScheduling { get; init; }

    /// <summary>Raw server: folder of files served by name and of uploads.</summary>
    public string Folder { get; init; } = "";

    /// <summary>Raw server: the size of the record the durable baseline appends per exchange (the node's exchange-record size).</summary>
    public int RecordBytes { get; init; }

    /// <summary>Raw server: uploads kept (the oldest beyond it deleted), as the node keeps dataset versions.</summary>
    public int KeepUploads { get; init; } = 1;

    /// <summary>YARP hop: the upstream raw server, and the client certificate it presents there.</summary>
    public string Upstream { get; init; } = "";

    public string ClientCertificate { get; init; } = "";

    public string ClientKey { get; init; } = "";

    public static ServerConfig Read(string path) => JsonSerializer.Deserialize<ServerConfig>(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path} is empty.");

    public void Write(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this));

    /// <summary>Loads a PEM certificate and key in a form SslStream can use.</summary>
    public static X509Certificate2 LoadCertificate(string certificate, string key)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certificate, key);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>
    /// The minimal mTLS check a plain Kestrel service would make: the client chain builds to one of
    /// our roots (intermediates supplied), no revocation check.
    /// </summary>
    public Func<X509Certificate2, X509Chain?, SslPolicyErrors, bool> ClientValidation()
    {
        var roots = new X509Certificate2Collection();
        roots.ImportFromPemFile(TrustAnchors);
        var intermediates = new X509Certificate2Collection();
        if (File.Exists(Intermediates))
        {
            intermediates.ImportFromPemFile(Intermediates);
        }

        return (certificate, _, _) =>
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
            chain.ChainPolicy.ExtraStore.AddRange(intermediates);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(certificate);
        };
    }

    /// <summary>Prints the line the driver waits for.</summary>
    public static void Ready(Uri address) => Console.Out.WriteLine($"READY {address}");

    /// <summary>Runs until the driver closes our standard input (or SIGTERM).</summary>
    public static async Task WaitForStopAsync()
    {
        var stdin = Task.Run(() => Console.In.ReadToEnd());
        var terminated = new TaskCompletionSource();
        using var registration = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            terminated.TrySetResult();
        });
        await Task.WhenAny(stdin, terminated.Task);
    }

    public static IPEndPoint Loopback(int port) => new(IPAddress.Loopback, port);
}

public sealed record DepartmentSpec(string Division, string CreditCode, string Name);

public sealed record ResourceSpec(string Code, string ProviderDivision, string ProviderCreditCode, string ProviderName);

/// <summary>A link to make; <paramref name="KeySha256"/> is the peer node's key, which the link pins.</summary>
public sealed record LinkSpec(string Division, string Role, string Url, string KeySha256);
