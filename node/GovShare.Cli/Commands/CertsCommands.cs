using System.CommandLine;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Identity;
using GovShare.Node.Pki;

namespace GovShare.Cli.Commands;

/// <summary>
/// <c>govshare certs …</c>: the development PKI — provincial root, prefecture intermediates,
/// department, node and operator certificates, revocation and CRLs. See certs/README.md.
/// </summary>
internal static class CertsCommands
{
    private static readonly Option<string> Pki = new("--pki")
    {
        Description = "The PKI folder.",
        DefaultValueFactory = _ => "certs/dev",
        Recursive = true,
    };

    public static Command Create()
    {
        var certs = new Command("certs", "Development PKI: CAs, department, node and operator certificates, CRLs.") { Pki };
        certs.Add(Root());
        certs.Add(Intermediate());
        certs.Add(Department());
        certs.Add(NodeCertificate());
        certs.Add(OperatorCertificate());
        certs.Add(Renew());
        certs.Add(Revoke());
        certs.Add(Crl());
        return certs;
    }

    private static Command Root()
    {
        var division = new Option<string>("--division") { Description = "The province's division code, or 000000 for the national node's own root.", DefaultValueFactory = _ => "530000" };
        var name = new Option<string>("--name") { Description = "The CA's name.", DefaultValueFactory = _ => "Yunnan Province GovShare Root CA (development)" };
        var command = new Command("root", "Create the provincial root CA (or, with --division 000000, the national node's own root, which a province trusts only for the national node: Upstream:ParentTrustAnchor).") { division, name };
        command.SetAction(parse => Guard(() =>
        {
            var folder = new PkiFolder(parse.GetValue(Pki)!);
            var ca = folder.CreateRoot(parse.GetValue(division)!, parse.GetValue(name)!, DateTimeOffset.UtcNow);
            Console.WriteLine($"Root CA '{ca.Certificate.Subject}' created; trust anchors: {folder.TrustAnchorsFile}");
        }));
        return command;
    }

    private static Command Intermediate()
    {
        var division = new Option<string>("--division") { Description = "The prefecture's division code, e.g. 530100.", Required = true };
        var name = new Option<string?>("--name") { Description = "The CA's name." };
        var command = new Command("intermediate", "Create a prefecture's intermediate CA under the root.") { division, name };
        command.SetAction(parse => Guard(() =>
        {
            var folder = new PkiFolder(parse.GetValue(Pki)!);
            var code = parse.GetValue(division)!;
            var ca = folder.CreateIntermediate(code, parse.GetValue(name) ?? $"GovShare CA {code} (development)", DateTimeOffset.UtcNow);
            Console.WriteLine($"Intermediate CA '{ca.Certificate.Subject}' created; intermediates: {folder.IntermediatesFile}");
        }));
        return command;
    }

    private static Command Department()
    {
        var division = new Option<string>("--division") { Description = "The department's division code.", Required = true };
        var creditCode = new Option<string>("--credit-code") { Description = "The department's unified social credit code (18 characters).", Required = true };
        var name = new Option<string>("--name") { Description = "The department's name.", Required = true };
        var days = new Option<int>("--days") { Description = "Validity in days.", DefaultValueFactory = _ => 365 };
        var command = new Command("dept", "Issue a department's client certificate (SAN govshare:dept/<division>/<credit-code>, clientAuth).") { division, creditCode, name, days };
        command.SetAction(parse => Guard(() =>
        {
            var folder = new PkiFolder(parse.GetValue(Pki)!);
            var now = DateTimeOffset.UtcNow;
            var files = folder.IssueDepartment(parse.GetValue(division)!, parse.GetValue(creditCode)!, parse.GetValue(name)!, now.AddMinutes(-5), now.AddDays(Days(parse.GetValue(days))));
            Console.WriteLine($"Issued serial {files.Serial}: {files.CertificatePath} (key {files.KeyPath}, mode 0600)");
        }));
        return command;
    }

    private static Command NodeCertificate()
    {
        var division = new Option<string>("--division") { Description = "The node's division code.", Required = true };
        var dns = new Option<string[]>("--dns") { Description = "DNS names the node is reached by.", DefaultValueFactory = _ => ["localhost"], AllowMultipleArgumentsPerToken = true };
        var ip = new Option<string[]>("--ip") { Description = "IP addresses the node is reached by.", DefaultValueFactory = _ => ["127.0.0.1"], AllowMultipleArgumentsPerToken = true };
        var days = new Option<int>("--days") { Description = "Validity in days.", DefaultValueFactory = _ => 365 };
        var command = new Command("node", "Issue a node certificate from the root (SAN govshare:node/<division>, serverAuth and clientAuth); prints its key's SHA-256, which links pin.") { division, dns, ip, days };
        command.SetAction(parse => Guard(() =>
        {
            var addresses = new List<IPAddress>();
            foreach (var text in parse.GetValue(ip)!)
            {
                addresses.Add(IPAddress.TryParse(text, out var address) ? address : throw new ArgumentException($"--ip: '{text}' is not an IP address."));
            }

            var folder = new PkiFolder(parse.GetValue(Pki)!);
            var now = DateTimeOffset.UtcNow;
            var files = folder.IssueNode(parse.GetValue(division)!, now.AddMinutes(-5), now.AddDays(Days(parse.GetValue(days))), parse.GetValue(dns)!, addresses);
            Console.WriteLine($"Issued serial {files.Serial}: {files.CertificatePath} (key {files.KeyPath}, mode 0600)");
            // What the linked nodes' operators pin ('govshare node link … --key-sha256', or compare with what link prints).
            using var issued = X509Certificate2.CreateFromPem(File.ReadAllText(files.CertificatePath));
            Console.WriteLine($"Key SHA-256 (for linking): {TrustMaterial.SpkiSha256(issued)}");
        }));
        return command;
    }

    private static Command OperatorCertificate()
    {
        var division = new Option<string>("--division") { Description = "The division of the node the operator runs.", Required = true };
        var id = new Option<string>("--id") { Description = "The operator's id (a-z, 0-9, '.', '_', '-'), e.g. a staff login.", Required = true };
        var name = new Option<string>("--name") { Description = "The operator's name.", Required = true };
        var days = new Option<int>("--days") { Description = "Validity in days.", DefaultValueFactory = _ => 365 };
        var command = new Command("operator", "Issue an operator's client certificate (SAN govshare:operator/<division>/<id>, clientAuth) from the division's CA: for the management listener.") { division, id, name, days };
        command.SetAction(parse => Guard(() =>
        {
            var folder = new PkiFolder(parse.GetValue(Pki)!);
            var now = DateTimeOffset.UtcNow;
            var files = folder.IssueOperator(parse.GetValue(division)!, parse.GetValue(id)!, parse.GetValue(name)!, now.AddMinutes(-5), now.AddDays(parse.GetValue(days)));
            Console.WriteLine($"Issued serial {files.Serial}: {files.CertificatePath} (key {files.KeyPath}, mode 0600)");
        }));
        return command;
    }

    private static Command Revoke()
    {
        var serial = new Option<string>("--serial") { Description = "The serial number (hex) to revoke.", Required = true };
        var command = new Command("revoke", "Revoke a certificate and publish its CA's new CRL.") { serial };
        command.SetAction(parse => Guard(() =>
        {
            var folder = new PkiFolder(parse.GetValue(Pki)!);
            var ca = folder.Revoke(parse.GetValue(serial)!, DateTimeOffset.UtcNow)
                ?? throw new ArgumentException($"No CA in {folder.Path} issued serial {parse.GetValue(serial)}.");
            Console.WriteLine($"Revoked by '{ca.Certificate.Subject}'; new CRL in {folder.CrlFolder}");
        }));
        return command;
    }

    private static Command Crl()
    {
        var ca = new Option<string?>("--ca") { Description = "'root' or a prefecture's division code; all CAs when absent." };
        var days = new Option<int>("--days") { Description = "Days until nextUpdate.", DefaultValueFactory = _ => 7 };
        var command = new Command("crl", "Publish fresh signed CRLs (run before the old ones reach nextUpdate).") { ca, days };
        command.SetAction(parse => Guard(() =>
        {
            var folder = new PkiFolder(parse.GetValue(Pki)!);
            var wanted = parse.GetValue(ca);
            var published = 0;
            foreach (var authority in folder.AllAuthorities().Where(a => wanted is null || a.Id == wanted))
            {
                Console.WriteLine($"Published {folder.PublishCrl(authority, DateTimeOffset.UtcNow, TimeSpan.FromDays(Days(parse.GetValue(days))))}");
                published++;
            }

            if (published == 0)
            {
                throw new ArgumentException($"No CA '{wanted ?? "(any)"}' in {folder.Path}.");
            }
        }));
        return command;
    }

    /// <summary>
    /// A validity of at least one day: 0 would issue a certificate (or CRL) that is already
    /// expired, which no node accepts — better refused here than found at the first handshake.
    /// </summary>
    private static int Days(int days) => days is >= 1 and <= 3650
        ? days
        : throw new ArgumentException($"--days {days}: give a validity from 1 to 3650 days (a certificate valid for {days} day(s) would be expired or absurd).");

    /// <summary>Runs a PKI action, turning expected faults into a message and an exit code.</summary>
    private static Command Renew()
    {
        var certificate = new Option<string>("--certificate") { Description = "The certificate to renew (PEM, as issued: issued/dept-….crt, node-….crt, operator-….crt).", Required = true };
        var days = new Option<int>("--days") { Description = "Validity of the new certificate in days.", DefaultValueFactory = _ => 365 };
        var command = new Command("renew", "Re-issue a department, node or operator certificate with the same identity (same subject and SAN, new key) from the same CA; the old one keeps working until it expires or is revoked.") { certificate, days };
        command.SetAction(parse => Guard(() =>
        {
            var folder = new PkiFolder(parse.GetValue(Pki)!);
            var now = DateTimeOffset.UtcNow;
            var files = folder.Renew(parse.GetValue(certificate)!, now.AddMinutes(-5), now.AddDays(Days(parse.GetValue(days))));
            Console.WriteLine($"Issued serial {files.Serial}: {files.CertificatePath} (key {files.KeyPath}, mode 0600). The old certificate still works until it expires or you revoke it.");
            using var issued = X509Certificate2.CreateFromPem(File.ReadAllText(files.CertificatePath));
            if (TrustMaterial.UriOf(issued)?.StartsWith("govshare:node/", StringComparison.Ordinal) == true)
            {
                // A node's new key breaks the links that pinned the old one until their operators re-key.
                Console.WriteLine($"Key SHA-256 (for 'govshare node rekey' on the linked nodes): {TrustMaterial.SpkiSha256(issued)}");
            }
        }));
        return command;
    }

    private static int Guard(Action action)
    {
        try
        {
            action();
            return ExitCodes.Ok;
        }
        catch (KeyExistsException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return ExitCodes.Failed;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or FileNotFoundException or DirectoryNotFoundException)
        {
            Console.Error.WriteLine(ex.Message);
            return ExitCodes.Usage;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            Console.Error.WriteLine(ex.Message);
            return ExitCodes.Failed;
        }
    }

    /// <summary>A valid demo credit code from a 17-character body.</summary>
    internal static string DemoCreditCode(string body) => CreditCode.Complete(body);
}
