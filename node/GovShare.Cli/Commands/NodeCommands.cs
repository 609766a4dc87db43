using System.CommandLine;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Hierarchy;
using GovShare.Node.Hosting;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using GovShare.Node.Management;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace GovShare.Cli.Commands;

/// <summary><c>govshare node run</c>: runs a node from appsettings.json and environment variables.</summary>
internal static class NodeCommands
{
    public static Command Create()
    {
        var node = new Command("node", "Run and manage this jurisdiction's node.");
        var run = new Command("run", "Run the node (settings: appsettings.json in the current folder, Node__* environment variables, --Node:Setting=value).");
        run.TreatUnmatchedTokensAsErrors = false;
        run.SetAction(async (parse, cancellation) =>
        {
            var passThrough = parse.UnmatchedTokens.ToArray();
            return await RunAsync(passThrough, overrides: null, cancellation);
        });
        node.Add(run);
        node.Add(RebuildState());
        node.Add(Link());
        node.Add(Links());
        node.Add(Unlink());
        node.Add(Rekey());
        node.Add(Trust());
        node.Add(RefreshCrl());
        node.Add(Backup());
        node.Add(Restore());
        return node;
    }

    private static Command Backup()
    {
        var to = new Option<string>("--to") { Description = "Where to write the backup: a file ending in .tar, or a new or empty folder (unpacked there, with MANIFEST.json).", Required = true };
        var keyFile = KeyFileOption("Encrypt the backup (AES-256-GCM, chunked; deploy/README.md) with this 32-byte key file; --to is then a file. Keep the key apart from the backups.");
        var since = new Option<string?>("--since") { Description = "Incremental: a previous backup of this node (folder, .tar, or encrypted with the same --key-file). Dataset files and log archives it holds are not copied again; restoring then needs it (node restore --previous)." };
        var backup = new Command("backup", "Back up the running node without stopping it: its state at one change-log sequence, the dataset files, each log up to its head at that moment, and MANIFEST.json (SHA-256 of every file) signed with the node's key (MANIFEST.sig). The backup holds the node's secrets: encrypt it (--key-file) or keep it like the data folder.") { to, keyFile, since, OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        backup.SetAction(async (parse, cancellation) =>
        {
            var target = Path.GetFullPath(parse.GetValue(to)!);
            byte[]? key = null;
            if (parse.GetValue(keyFile) is { } keyPath)
            {
                try
                {
                    key = BackupEncryption.ReadKeyFile(keyPath);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    await Console.Error.WriteLineAsync($"--key-file: {ex.Message}");
                    return ExitCodes.Usage;
                }
            }

            var asFile = key is not null || target.EndsWith(".tar", StringComparison.OrdinalIgnoreCase);
            if (asFile ? File.Exists(target) : Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
            {
                await Console.Error.WriteLineAsync($"--to: '{target}' exists{(asFile ? "" : " and is not empty")}; a backup never overwrites one.");
                return ExitCodes.Usage;
            }

            BackupSince? previous = null;
            if (parse.GetValue(since) is { } sincePath)
            {
                try
                {
                    previous = BackupSince.Of(await ReadEarlierAsync(sincePath, key, target, cancellation));
                }
                catch (Exception ex) when (ex is BackupInvalidException or IOException or UnauthorizedAccessException or InvalidDataException)
                {
                    await Console.Error.WriteLineAsync($"--since: {ex.Message}");
                    return ex is BackupInvalidException or InvalidDataException ? ExitCodes.BackupInvalid : ExitCodes.Usage;
                }
            }

            return await OperatorClient.CallAsync(
                parse,
                client => previous is null
                    ? client.GetAsync("v1/operator/backup", HttpCompletionOption.ResponseHeadersRead, cancellation)
                    : client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/operator/backup") { Content = JsonContent.Create(previous) }, HttpCompletionOption.ResponseHeadersRead, cancellation),
                async response => await SaveBackupAsync(response, target, asFile, key, cancellation),
                Timeout.InfiniteTimeSpan);
        });
        return backup;
    }

    private static Option<string?> KeyFileOption(string description) => new("--key-file") { Description = description };

    /// <summary>An earlier backup's manifest, its signature verified (an encrypted one is decrypted beside <paramref name="near"/> for the reading).</summary>
    private static async Task<BackupManifest> ReadEarlierAsync(string backup, byte[]? key, string near, CancellationToken cancellation)
    {
        if (!File.Exists(backup) && !Directory.Exists(backup))
        {
            throw new FileNotFoundException($"No backup at '{backup}'.", backup);
        }

        var plain = await DecryptedAsync(backup, key, near, cancellation);
        try
        {
            return NodeRestore.ReadSignedBackup(plain ?? backup).Manifest;
        }
        finally
        {
            if (plain is not null)
            {
                File.Delete(plain);
            }
        }
    }

    /// <summary>Decrypts an encrypted backup file to a temporary tar beside <paramref name="near"/>; null when it is not encrypted.</summary>
    /// <exception cref="IOException">It is encrypted and no key was given.</exception>
    private static async Task<string?> DecryptedAsync(string backup, byte[]? key, string near, CancellationToken cancellation)
    {
        if (!File.Exists(backup) || !BackupEncryption.IsEncrypted(backup))
        {
            return null;
        }

        if (key is null)
        {
            throw new IOException($"'{backup}' is an encrypted backup: give --key-file with the key it was written with.");
        }

        var plain = Path.GetFullPath(near).TrimEnd(Path.DirectorySeparatorChar) + $".{Path.GetFileName(backup)}.decrypted.partial";
        Directory.CreateDirectory(Path.GetDirectoryName(plain)!);
        try
        {
            await using var input = File.OpenRead(backup);
            await using var output = new FileStream(plain, FileMode.Create, FileAccess.Write);
            await BackupEncryption.DecryptAsync(input, output, key, cancellation);
        }
        catch
        {
            File.Delete(plain);
            throw;
        }

        return plain;
    }

    private static async Task<int> SaveBackupAsync(HttpResponseMessage response, string target, bool asFile, byte[]? key, CancellationToken cancellation)
    {
        // Written beside the target and renamed when complete: a cut connection leaves no file that looks like a backup.
        var partial = (asFile ? target : target.TrimEnd(Path.DirectorySeparatorChar) + ".tar") + ".partial";
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
            await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write))
            {
                if (key is null)
                {
                    await response.Content.CopyToAsync(file, cancellation);
                }
                else
                {
                    await using var body = await response.Content.ReadAsStreamAsync(cancellation);
                    await BackupEncryption.EncryptAsync(body, file, key, cancellation);
                }
            }

            if (asFile)
            {
                File.Move(partial, target);
            }
            else
            {
                Directory.CreateDirectory(target);
                await System.Formats.Tar.TarFile.ExtractToDirectoryAsync(partial, target, overwriteFiles: false, cancellation);
                File.Delete(partial);
            }

            // Checked now, not only at restore: a backup that does not match its manifest is known bad today.
            var manifest = asFile ? null : NodeRestore.Check(target, references: true);
            await Console.Out.WriteLineAsync(manifest is null
                ? $"Backup written to {target} ({new FileInfo(target).Length} bytes{(key is null ? "" : ", encrypted")})."
                : $"Backup written to {target}: {manifest.Files.Count} files{(manifest.Since is null ? "" : $" ({manifest.Files.Count(f => f.From is not null)} kept in earlier backups, since {manifest.Since})")}, state at change {manifest.ChangeSequence}, logs "
                  + string.Join(", ", manifest.Logs.Select(l => $"{LogEntry.LogName(l.Key)} through {l.Value.Sequence}")) + ".");
            return ExitCodes.Ok;
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or BackupInvalidException or InvalidDataException)
        {
            File.Delete(partial);
            await Console.Error.WriteLineAsync($"The backup was not completed: {ex.Message}");
            return ExitCodes.Failed;
        }
    }

    private static Command Restore()
    {
        var from = new Option<string>("--from") { Description = "The backup: a folder written by 'node backup', or its .tar file (or an encrypted one, with --key-file).", Required = true };
        var data = new Option<string>("--data") { Description = "The new data folder; must be empty or absent. Start a node on it afterwards (Node:DataPath).", Required = true };
        var keyFile = KeyFileOption("The 32-byte key file the backup (and the --previous ones) were encrypted with (node backup --key-file).");
        var previous = new Option<string[]>("--previous") { Description = "For an incremental backup (node backup --since): each earlier backup of its chain, back to the full one. Repeat the option.", AllowMultipleArgumentsPerToken = true };
        var nodeCertificate = new Option<string?>("--node-certificate") { Description = "The node's certificate (PEM, Node:Certificate) to verify the manifest's signature with here. Without it the signature is checked against the certificate in the backup, and the node's first start refuses a backup not signed with its own key." };
        var restore = new Command("restore", "Check a backup against its signed manifest and lay it out as a new data folder. At its first start the node verifies every log chain, takes back from Kafka what it shipped after the backup, and writes a restore record into each log naming what is missing.") { from, data, keyFile, previous, nodeCertificate };
        restore.SetAction(async (parse, cancellation) =>
        {
            BackupManifest manifest;
            var target = parse.GetValue(data)!;
            var temporary = new List<string>();
            X509Certificate2? certificate = null;
            try
            {
                byte[]? key = null;
                if (parse.GetValue(keyFile) is { } keyPath)
                {
                    try
                    {
                        key = BackupEncryption.ReadKeyFile(keyPath);
                    }
                    catch (ArgumentException ex)
                    {
                        await Console.Error.WriteLineAsync($"--key-file: {ex.Message}");
                        return ExitCodes.Usage;
                    }
                }

                if (parse.GetValue(nodeCertificate) is { } certificatePath)
                {
                    try
                    {
                        certificate = X509CertificateLoader.LoadCertificateFromFile(certificatePath);
                    }
                    catch (CryptographicException ex)
                    {
                        await Console.Error.WriteLineAsync($"--node-certificate: '{certificatePath}' is not a certificate ({ex.Message}).");
                        return ExitCodes.Usage;
                    }
                }

                // Encrypted backups are decrypted (and authenticated, chunk by chunk) beside the target, then checked and laid out like any tar.
                async Task<string> Plain(string backup)
                {
                    if (await DecryptedAsync(backup, key, target, cancellation) is { } plain)
                    {
                        temporary.Add(plain);
                        return plain;
                    }

                    return backup;
                }

                var source = await Plain(parse.GetValue(from)!);
                var earlier = new List<string>();
                foreach (var backup in parse.GetValue(previous) ?? [])
                {
                    if (!File.Exists(backup) && !Directory.Exists(backup))
                    {
                        await Console.Error.WriteLineAsync($"--previous: no backup at '{backup}'.");
                        return ExitCodes.Usage;
                    }

                    earlier.Add(await Plain(backup));
                }

                manifest = NodeRestore.Restore(source, target, earlier, certificate);
            }
            catch (BackupInvalidException ex)
            {
                await Console.Error.WriteLineAsync(ex.Message);
                return ExitCodes.BackupInvalid;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync(ex.Message);
                return ExitCodes.Usage;
            }
            finally
            {
                certificate?.Dispose();
                temporary.ForEach(File.Delete);
            }

            await Console.Out.WriteLineAsync(
                $"Restored node {manifest.Node}'s backup of {manifest.Taken:u} into {Path.GetFullPath(target)}: state at change {manifest.ChangeSequence}, logs "
                + string.Join(", ", manifest.Logs.Select(l => $"{LogEntry.LogName(l.Key)} through {l.Value.Sequence}"))
                + $"; manifest signature verified with {(certificate is null ? "the certificate in the backup (the node's first start checks it is its own key)" : "the given node certificate")}"
                + ". Start the node on it; its first start takes back from Kafka what it shipped after the backup, then writes a restore record into each log.");
            return ExitCodes.Ok;
        });
        return restore;
    }

    private static Command RebuildState()
    {
        var data = new Option<string>("--data") { Description = "The node's data folder (Node:DataPath). No node may be running on it.", Required = true };
        var rebuild = new Command("rebuild-state", "Rebuild the node's state database from its change log (the old database is kept in state-set-aside/). Other settings as for 'node run'.") { data };
        rebuild.TreatUnmatchedTokensAsErrors = false;
        rebuild.SetAction(async (parse, cancellation) =>
        {
            var folder = parse.GetValue(data)!;
            GovShareNode built;
            try
            {
                // Build opens the folder under its lock, sets the database aside and replays the whole change log into a new one.
                built = GovShareNode.Build(parse.UnmatchedTokens.ToArray(), [new("Node:DataPath", folder)], rebuildState: true);
            }
            catch (Exception ex) when (BuildRefusal(ex) is { } code)
            {
                await Console.Error.WriteLineAsync(ex.Message);
                return code;
            }

            await using var node = built;
            var folderState = node.Services.GetRequiredService<NodeDataFolder>();
            var result = node.Services.GetRequiredService<ChangeLogReplay>().Last!;
            await Console.Out.WriteLineAsync(
                $"Rebuilt the state of {folderState.Path} from its change log: {result.Replayed} records replayed, {result.Skipped} without state, through sequence {result.AppliedThrough}, in {result.Took.TotalSeconds:F1} s. "
                + (folderState.StateSetAside is { } aside ? $"The previous database is in {aside}." : "There was no previous database."));
            return ExitCodes.Ok;
        });
        return rebuild;
    }

    private static Command Link()
    {
        var role = new Argument<string>("role") { Description = "'parent' (run on the child, naming its province) or 'child' (run on the parent, naming a prefecture)." };
        role.AcceptOnlyFromAmong("parent", "child");
        var division = new Option<string>("--division") { Description = "The other node's division code.", Required = true };
        var url = new Option<string>("--url") { Description = "The other node's exchange address, https://host:port.", Required = true };
        var key = KeyOption("The SHA-256 of the other node's key (printed by 'govshare certs node'); without it, the node reads the key from the other node's TLS handshake at --url and pins that.");
        var link = new Command("link", "Link this node with its parent or a child (both operators run it, each naming the other); the link pins the other node's key.") { role, division, url, key, OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        link.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.PostAsJsonAsync(
            "v1/operator/links",
            new LinkRegistration(parse.GetValue(division), parse.GetValue(role) == "parent" ? LinkRole.Parent : LinkRole.Child, parse.GetValue(url), parse.GetValue(key)),
            cancellation)));
        return link;
    }

    private static Command Rekey()
    {
        var division = new Argument<string>("division") { Description = "The linked node's division code." };
        var key = KeyOption("The SHA-256 of the node's new key; without it, the node reads the key from the linked node's TLS handshake at its address.");
        var rekey = new Command("rekey", "Pin a linked node's new key after it was issued a new certificate (logged as a re-key).") { division, key, OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        rekey.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.PostAsJsonAsync(
            $"v1/operator/links/{Uri.EscapeDataString(parse.GetValue(division)!)}/rekey",
            new LinkRekey(parse.GetValue(key)),
            cancellation)));
        return rekey;
    }

    private static Command Trust()
    {
        var trust = new Command("trust", "List the dates the node's trust depends on — its certificate, each CA certificate, each CRL's nextUpdate — with the seconds left and whether each is within the warning's reach (Node:ExpiryWarning, Node:CrlExpiryWarning).") { OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        trust.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync("v1/operator/trust", cancellation)));
        return trust;
    }

    private static Command RefreshCrl()
    {
        var refresh = new Command("refresh-crl", "Make the node re-read its CRL folder (Node:CrlPath) now, after new CRLs were published; prints each CA's CRL dates.") { OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        refresh.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.PostAsync("v1/operator/crl/refresh", content: null, cancellation)));
        return refresh;
    }

    private static Option<string?> KeyOption(string description) => new("--key-sha256") { Description = description };

    private static Command Links()
    {
        var links = new Command("links", "List this node's links.") { OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        links.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync("v1/operator/links", cancellation)));
        return links;
    }

    private static Command Unlink()
    {
        var division = new Argument<string>("division") { Description = "The other node's division code." };
        var unlink = new Command("unlink", "Remove a link.") { division, OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        unlink.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.DeleteAsync($"v1/operator/links/{Uri.EscapeDataString(parse.GetValue(division)!)}", cancellation)));
        return unlink;
    }

    /// <summary>
    /// The exit code of a node that refuses to be built (its message is for the operator as it
    /// stands), or null for a fault that is not a refusal.
    /// </summary>
    private static int? BuildRefusal(Exception ex) => ex switch
    {
        NodeConfigurationException => ExitCodes.Usage,
        // Continuing the chain would bury the damage under new records: refuse, and say where.
        LogCorruptedException => ExitCodes.LogDamaged,
        // A downgrade: an older build must not write into a folder it cannot read.
        DataFolderFormatException => ExitCodes.DataFolderFormat,
        // A restored node whose Kafka copy does not continue its chain: writing on would fork it.
        LogRestoreRefusedException => ExitCodes.RestoreRefused,
        _ => null,
    };

    /// <summary>Builds and runs a node, turning a refusal to start into a readable message and its exit code.</summary>
    public static async Task<int> RunAsync(string[] args, IEnumerable<KeyValuePair<string, string?>>? overrides, CancellationToken cancellation, Func<GovShareNode, Task>? beforeStart = null, Func<GovShareNode, Task>? started = null)
    {
        GovShareNode built;
        try
        {
            built = GovShareNode.Build(args, overrides);
        }
        catch (Exception ex) when (BuildRefusal(ex) is { } code)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            return code;
        }

        await using var node = built;
        if (beforeStart is not null)
        {
            await beforeStart(node);
        }

        try
        {
            await node.StartAsync(cancellation);
        }
        catch (IOException ex)
        {
            // Typically a port already in use: say which settings decide the addresses.
            await Console.Error.WriteLineAsync($"The node cannot listen: {ex.Message} Check Node:ExchangeUrl ({node.Options.ExchangeUrl}) and Node:ManagementUrl ({node.Options.ManagementUrl}).");
            return ExitCodes.Usage;
        }

        if (started is not null)
        {
            await started(node);
        }
        // A log entry, not a bare line: with Logging:Console:FormatterName=json every line of the console is JSON.
        node.LogServing();
        // The host's console lifetime takes SIGTERM, SIGINT and Ctrl+C for itself (it only signals
        // ApplicationStopping), so waiting on the command line's token alone never ended: wait on both.
        var lifetime = node.Services.GetRequiredService<IHostApplicationLifetime>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation, lifetime.ApplicationStopping);
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C or SIGTERM: stop gracefully below.
        }

        await node.StopAsync(CancellationToken.None);
        return ExitCodes.Ok;
    }
}
