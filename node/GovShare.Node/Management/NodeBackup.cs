using System.Formats.Tar;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;

namespace GovShare.Node.Management;

/// <summary>
/// One file of a backup: its path (forward slashes, relative to the data folder), length and SHA-256.
/// <see cref="From"/> names the earlier backup that holds it, in an incremental backup (<c>--since</c>).
/// </summary>
public sealed record BackupFile(string Path, long Bytes, string Sha256)
{
    public string? From { get; init; }
}

/// <summary>
/// <c>MANIFEST.sig</c> beside the manifest: the node's ECDSA signature (P-256, SHA-256, P1363) over the exact
/// bytes of <c>MANIFEST.json</c>, and the certificate it was made with. Restore verifies it with the
/// certificate the operator gives (<c>--certificate</c>) or else the one inside, and the restored node's
/// first start refuses a backup not signed with its own key.
/// </summary>
public sealed record BackupSignature(string Certificate, string KeyId, string Signature)
{
    public const string FileName = "MANIFEST.sig";

    public static BackupSignature Sign(byte[] manifest, X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        using var key = certificate.GetECDsaPrivateKey() ?? throw new InvalidOperationException("Node:Certificate has no ECDSA key; a backup manifest is signed with it.");
        return new BackupSignature(certificate.ExportCertificatePem(), LogCheckpoint.KeyId(key), Convert.ToBase64String(key.SignData(manifest, HashAlgorithmName.SHA256)));
    }

    /// <summary>Verifies the signature with <paramref name="trusted"/> (else the certificate inside); returns the signer's key id.</summary>
    /// <exception cref="BackupInvalidException">The signature does not verify.</exception>
    public string Verify(byte[] manifest, X509Certificate2? trusted, string where)
    {
        using var embedded = trusted is null ? X509Certificate2.CreateFromPem(Certificate) : null;
        var certificate = trusted ?? embedded!;
        using var key = certificate.GetECDsaPublicKey() ?? throw new BackupInvalidException($"{where}: the certificate {(trusted is null ? "in " + FileName : "given")} has no ECDSA key.");
        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(Signature);
        }
        catch (FormatException)
        {
            signature = [];
        }

        if (!key.VerifyData(manifest, signature, HashAlgorithmName.SHA256))
        {
            throw new BackupInvalidException(trusted is null
                ? $"{where}: {BackupManifest.FileName} does not verify with the signature in {FileName}: the manifest was changed after it was signed; nothing was restored."
                : $"{where}: {BackupManifest.FileName} is not signed by the certificate given ({certificate.Subject}): the backup was rewritten, or is another node's; nothing was restored.");
        }

        return LogCheckpoint.KeyId(key);
    }
}

/// <summary>
/// <c>MANIFEST.json</c> at the root of a backup: the data folder format, the change-log sequence the
/// state was copied at, each log's head, and every file with its hash. Restore refuses a backup whose
/// files differ from it.
/// </summary>
public sealed record BackupManifest(string Format, int DataFolderFormat, string Node, DateTimeOffset Taken, long ChangeSequence, IReadOnlyDictionary<LogKind, LogHead> Logs, IReadOnlyList<BackupFile> Files)
{
    public const string FileName = "MANIFEST.json";

    /// <summary>2: signed (<see cref="BackupSignature"/>), with <see cref="Id"/> and files kept in earlier backups (<see cref="BackupFile.From"/>).</summary>
    public const string CurrentFormat = "govshare-backup/2";

    /// <summary>This backup's id; an incremental backup's files name it in <see cref="BackupFile.From"/>.</summary>
    public string Id { get; init; } = "";

    /// <summary>The backup this one was taken since (<c>--since</c>); null for a full backup.</summary>
    public string? Since { get; init; }

    /// <summary>
    /// Files that never change once written, so an incremental backup refers to an earlier copy instead of
    /// copying them again: dataset version files and log archives (the archive index is not: it grows).
    /// </summary>
    public static bool IsImmutable(string path) =>
        (path.StartsWith("datasets/", StringComparison.Ordinal) && path.EndsWith(".arrows", StringComparison.Ordinal))
        || (path.StartsWith("logs/", StringComparison.Ordinal) && path.Contains("/archive/", StringComparison.Ordinal) && !path.EndsWith("/index.jsonl", StringComparison.Ordinal));
}

/// <summary>What an incremental backup is taken since: the previous backup's id, node and files (from its manifest).</summary>
public sealed record BackupSince(string Id, string Node, IReadOnlyList<BackupFile> Files)
{
    public static BackupSince Of(BackupManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return new BackupSince(manifest.Id, manifest.Node, manifest.Files);
    }
}

/// <summary>A backup refused at restore: tampered, truncated, or not a GovShare backup. The message says which file and why.</summary>
public sealed class BackupInvalidException(string message) : Exception(message);

/// <summary>
/// The online backup (<c>GET /v1/operator/backup</c>, <c>govshare node backup</c>) while the node serves.
/// Order makes it consistent: the state first (<see cref="IStateStore.Snapshot"/>, at change sequence N),
/// then the logs, then the dataset files. The state is a cache of the change log, so a change log that
/// reaches past N is replayed at the restored node's start. Each log's <c>checkpoint</c> and <c>shipped</c>
/// files are copied before its segments, so they never name a record past the copied head (else the
/// restored node would refuse to start: "records … were deleted"); the live segment is copied up to its
/// last complete line. Everything is staged in <c>&lt;data&gt;/backup-work/</c> (same disk), hashed into
/// the manifest, then streamed as a tar.
/// </summary>
public sealed partial class NodeBackup(NodeDataFolder data, LogWriter log, TimeProvider time, string datasetFolder, Func<X509Certificate2> nodeCertificate)
{
    /// <summary>Where backups are staged; never part of a backup.</summary>
    public const string WorkFolder = "backup-work";

    // Never copied: the lock, the live state database (copied logically by Snapshot), staging, old set-aside states.
    // The names of Exchange/Datasets' SegmentKeyIndexFile.Extension and KeyIndexSecret.FileName (Management may not
    // depend on Exchange; NodeBackupTests checks they agree).
    internal const string KeyIndexExtension = ".keys";
    internal const string KeyIndexSecretFile = "keys.secret";

    private static readonly string[] Skipped = ["node.lock", WorkFolder, "state-set-aside", "logs", "datasets", LogRestore.MarkerFile];



    private static readonly JsonSerializerOptions ManifestJson = new(LogJson.Options) { WriteIndented = true };

    /// <summary>
    /// Stages a backup and returns its folder (the caller streams it with <see cref="WriteTarAsync"/> and deletes it).
    /// With <paramref name="since"/> (the previous backup's manifest) it is incremental: an immutable file whose
    /// bytes the previous backup holds is neither copied nor sent, only listed with the backup that has it.
    /// </summary>
    public async Task<string> StageAsync(BackupSince? since, CancellationToken cancellation)
    {
        var id = ExchangeId.New(time).Value;
        var work = Path.Combine(data.SubFolder(WorkFolder), id);
        if (since is not null && since.Node != log.Node)
        {
            throw new ArgumentException($"--since names a backup of node {since.Node}; this is node {log.Node}.");
        }

        var reuse = new Reusable(since?.Files.Where(f => BackupManifest.IsImmutable(f.Path)).ToDictionary(f => f.Path, f => f with { From = f.From ?? since.Id }, StringComparer.Ordinal) ?? []);
        try
        {
            var sequence = data.State.Snapshot(work);
            // Right after the state: the versions it names, before a newer push's retention prunes them.
            CopyDatasets(work, reuse);
            var heads = new Dictionary<LogKind, LogHead>();
            foreach (var kind in Enum.GetValues<LogKind>())
            {
                heads[kind] = await CopyLogAsync(kind, work, reuse, cancellation);
            }

            // Again after the logs: a version's file is in place before its push is logged, so every
            // version the copied logs name is copied too (files already copied are kept).
            CopyDatasets(work, reuse);

            CopyTheRest(data.Path, work);

            // The links that stood for a previous backup's copy (for the log verification above) are not sent.
            foreach (var reused in reuse.Reused.Keys.Select(path => Path.Combine(work, path)).Where(File.Exists))
            {
                File.Delete(reused);
            }

            var files = Directory.EnumerateFiles(work, "*", SearchOption.AllDirectories)
                .Select(f => Describe(work, f))
                .Concat(reuse.Reused.Values)
                .OrderBy(f => f.Path, StringComparer.Ordinal)
                .ToList();
            var manifest = new BackupManifest(BackupManifest.CurrentFormat, Kernel.DataFolderFormat.Current, log.Node, time.GetUtcNow(), sequence, heads, files)
            {
                Id = id,
                Since = since?.Id,
            };
            var bytes = JsonSerializer.SerializeToUtf8Bytes(manifest, ManifestJson);
            await File.WriteAllBytesAsync(Path.Combine(work, BackupManifest.FileName), bytes, cancellation);
            using (var certificate = nodeCertificate())
            {
                await File.WriteAllBytesAsync(Path.Combine(work, BackupSignature.FileName), JsonSerializer.SerializeToUtf8Bytes(BackupSignature.Sign(bytes, certificate), ManifestJson), cancellation);
            }

            return work;
        }
        catch
        {
            Discard(work);
            throw;
        }
    }

    /// <summary>Streams a staged backup as a tar, the manifest and its signature first.</summary>
    public static async Task WriteTarAsync(string staged, Stream output, CancellationToken cancellation)
    {
        await using var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        await tar.WriteEntryAsync(Path.Combine(staged, BackupManifest.FileName), BackupManifest.FileName, cancellation);
        await tar.WriteEntryAsync(Path.Combine(staged, BackupSignature.FileName), BackupSignature.FileName, cancellation);
        foreach (var file in Directory.EnumerateFiles(staged, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var name = Path.GetRelativePath(staged, file).Replace('\\', '/');
            if (name is not BackupManifest.FileName and not BackupSignature.FileName)
            {
                await tar.WriteEntryAsync(file, name, cancellation);
            }
        }
    }

    public static void Discard(string staged)
    {
        try
        {
            Directory.Delete(staged, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Nothing staged.
        }
    }

    private void CopyDatasets(string work, Reusable reuse)
    {
        var source = datasetFolder;
        if (!Directory.Exists(source))
        {
            return;
        }

        // Dataset versions are immutable once renamed into place; pushes still in flight (*.tmp) are not data yet.
        // Key index files and their secret are derived, node-local data (Exchange/README.md, "Key index files"):
        // not backed up, so the secret never leaves the node; a restored node builds its indexes again.
        foreach (var file in Directory.EnumerateFiles(source))
        {
            if (file.EndsWith(".tmp", StringComparison.Ordinal)
                || file.EndsWith(KeyIndexExtension, StringComparison.Ordinal)
                || Path.GetFileName(file) == KeyIndexSecretFile)
            {
                continue;
            }

            var target = Path.Combine(work, "datasets", Path.GetFileName(file));
            if (File.Exists(target) || reuse.Reused.ContainsKey("datasets/" + Path.GetFileName(file)))
            {
                continue;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            try
            {
                if (!reuse.TryReuse(file, "datasets/" + Path.GetFileName(file), target, link: false))
                {
                    LinkOrCopy(file, target);
                }
            }
            catch (FileNotFoundException)
            {
                // Removed by retention after the listing: the state may name it, as it would after retention ran.
            }
        }
    }

    /// <summary>Copies one log consistently; retried when the archiver moved a segment under the copy.</summary>
    private async Task<LogHead> CopyLogAsync(LogKind kind, string work, Reusable reuse, CancellationToken cancellation)
    {
        var source = log.Store.FolderOf(kind);
        var target = LogStore.ForDataFolder(work);
        for (var attempt = 1; ; attempt++)
        {
            await log.ArchivingCompleted(kind).WaitAsync(cancellation);
            var folder = target.FolderOf(kind);
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }

            Directory.CreateDirectory(folder);
            foreach (var stale in reuse.Reused.Keys.Where(k => k.StartsWith("logs/" + LogEntry.LogName(kind) + "/", StringComparison.Ordinal)).ToList())
            {
                reuse.Reused.Remove(stale);
            }

            try
            {
                if (Directory.Exists(source))
                {
                    // The marks first: the chain copied after them reaches at least as far.
                    foreach (var mark in new[] { LogStore.CheckpointFile, LogStore.WatermarkFile })
                    {
                        CopyIfPresent(Path.Combine(source, mark), Path.Combine(folder, mark));
                    }

                    CopyIfPresent(Path.Combine(source, "archive", "index.jsonl"), Path.Combine(folder, "archive", "index.jsonl"));
                    foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
                    {
                        var relative = Path.GetRelativePath(source, file);
                        // The aggregates (statistics, evaluation) are a cache of the chain (ChainAggregates): rebuilt after a restore, never copied.
                        if (relative is LogStore.CheckpointFile or LogStore.WatermarkFile || ChainAggregateFiles.IsDerived(relative) || relative == Path.Combine("archive", "index.jsonl") || file.EndsWith(".tmp", StringComparison.Ordinal))
                        {
                            continue;
                        }

                        var path = "logs/" + LogEntry.LogName(kind) + "/" + relative.Replace('\\', '/');
                        if (reuse.TryReuse(file, path, Path.Combine(folder, relative), link: true))
                        {
                            continue;
                        }

                        if (BackupManifest.IsImmutable(path))
                        {
                            LinkOrCopy(file, Path.Combine(folder, relative));
                        }
                        else
                        {
                            CopyCompleteLines(file, Path.Combine(folder, relative));
                        }
                    }
                }

                var verified = LogVerifier.VerifyStore(target, kind, publicKey: null);
                if (verified.Ok)
                {
                    var last = verified.LastSequence == 0 ? null : target.ReadEntries(kind, verified.LastSequence, verified.LastSequence).LastOrDefault();
                    return new LogHead(verified.LastSequence, last?.Hash ?? "");
                }

                if (attempt == 5)
                {
                    throw new InvalidOperationException($"The {LogEntry.LogName(kind)} log could not be copied consistently: {verified.Message}");
                }
            }
            catch (FileNotFoundException) when (attempt < 5)
            {
                // A segment was archived (moved) between listing and copying: copy the log again.
            }
        }
    }

    /// <summary>
    /// An immutable file (a dataset version, a log archive) is staged as a hard link, not a copy: no
    /// space for a second copy of the bulk of the folder, and the link keeps the bytes even if retention
    /// removes the original name before the backup is streamed. A copy where a link cannot be made
    /// (another file system, e.g. Exchange:DatasetPath on its own volume).
    /// </summary>
    private static void LinkOrCopy(string from, string to)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(to)!);
        if (!OperatingSystem.IsWindows() && Link(from, to) == 0)
        {
            return;
        }

        File.Copy(from, to);
    }

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existing, string created);

    private static void CopyIfPresent(string from, string to)
    {
        if (File.Exists(from))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(from, to);
        }
    }

    /// <summary>A segment up to its last newline (the writer may be mid-line); other files whole.</summary>
    private static void CopyCompleteLines(string from, string to)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(to)!);
        if (LogStore.SegmentFirstSeq(from) is null || !from.EndsWith(".jsonl", StringComparison.Ordinal))
        {
            File.Copy(from, to);
            return;
        }

        using var source = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        // The length now, then back to its last newline in blocks: segments are up to Logs:SegmentBytes (64 MiB), never read whole into memory.
        var end = source.Length;
        var block = new byte[64 * 1024];
        while (end > 0)
        {
            var start = Math.Max(0, end - block.Length);
            source.Position = start;
            var read = (int)(end - start);
            source.ReadExactly(block, 0, read);
            var newline = Array.LastIndexOf(block, (byte)'\n', read - 1, read);
            if (newline >= 0)
            {
                end = start + newline + 1;
                break;
            }

            end = start;
        }

        source.Position = 0;
        using var target = new FileStream(to, FileMode.CreateNew, FileAccess.Write);
        var left = end;
        while (left > 0)
        {
            var read = source.Read(block, 0, (int)Math.Min(block.Length, left));
            if (read == 0)
            {
                throw new EndOfStreamException($"{from} became shorter while it was copied.");
            }

            target.Write(block, 0, read);
            left -= read;
        }
    }

    /// <summary>The node's other files (format version, secrets, data-protection keys …), whole.</summary>
    private static void CopyTheRest(string from, string work)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(from))
        {
            var name = Path.GetFileName(entry);
            if (Skipped.Contains(name, StringComparer.Ordinal) || name.StartsWith("govshare", StringComparison.Ordinal) && name.EndsWith(".db", StringComparison.Ordinal))
            {
                continue;
            }

            if (Directory.Exists(entry))
            {
                foreach (var file in Directory.EnumerateFiles(entry, "*", SearchOption.AllDirectories))
                {
                    CopyIfPresent(file, Path.Combine(work, Path.GetRelativePath(from, file)));
                }
            }
            else
            {
                CopyIfPresent(entry, Path.Combine(work, name));
            }
        }
    }

    private static BackupFile Describe(string root, string file)
    {
        using var stream = File.OpenRead(file);
        return new BackupFile(Path.GetRelativePath(root, file).Replace('\\', '/'), stream.Length, Convert.ToHexStringLower(SHA256.HashData(stream)));
    }

    /// <summary>
    /// In an incremental backup: when the previous backup holds exactly a file's bytes (same path, length and
    /// SHA-256 — read, not copied), the file is listed as that backup's and not copied. A log archive gets a
    /// link in the staging folder, so the staged log still verifies; the link is not sent.
    /// </summary>
    private sealed class Reusable(Dictionary<string, BackupFile> previous)
    {
        /// <summary>Staged paths that stand for an earlier backup's copy, with the entry naming that backup.</summary>
        public Dictionary<string, BackupFile> Reused { get; } = new(StringComparer.Ordinal);

        public bool TryReuse(string file, string path, string staged, bool link)
        {
            if (!previous.TryGetValue(path, out var earlier) || !BackupManifest.IsImmutable(path))
            {
                return false;
            }

            using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            {
                if (stream.Length != earlier.Bytes || Convert.ToHexStringLower(SHA256.HashData(stream)) != earlier.Sha256)
                {
                    return false;
                }
            }

            if (link)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(staged)!);
                File.CreateSymbolicLink(staged, Path.GetFullPath(file));
            }

            Reused[path] = earlier;
            return true;
        }
    }
}

/// <summary>
/// <c>govshare node restore</c>: checks a backup against its signed manifest and lays it out as a data folder,
/// with the <see cref="LogRestore.MarkerFile"/> that makes the first start take back from Kafka and write a
/// restore record into each log. An incremental backup also needs the earlier backups it names (<c>--previous</c>).
/// No node may run on the target, which must be empty.
/// </summary>
public static class NodeRestore
{
    /// <summary>
    /// Restores <paramref name="from"/> (a backup folder, or a tar file) into the empty <paramref name="target"/>, taking the
    /// files an incremental backup refers to from <paramref name="previous"/>; returns the manifest. The manifest's signature
    /// is verified with <paramref name="certificate"/> when given, else with the certificate inside the backup (and the
    /// node's first start then refuses a signer other than its own key).
    /// </summary>
    /// <exception cref="BackupInvalidException">A backup does not match its manifest or signature, is not a backup, or an earlier backup it needs is missing.</exception>
    /// <exception cref="IOException">The target is not empty.</exception>
    public static BackupManifest Restore(string from, string target, IReadOnlyList<string>? previous = null, X509Certificate2? certificate = null)
    {
        var full = Path.GetFullPath(target);
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
        {
            throw new IOException($"'{full}' is not empty: a backup is restored into a new or empty folder only, never over a node's data.");
        }

        Directory.CreateDirectory(full);
        try
        {
            if (Directory.Exists(from))
            {
                var (listed, _) = ReadSigned(from, certificate);
                foreach (var name in listed.Files.Where(f => f.From is null).Select(f => f.Path).Append(BackupManifest.FileName).Append(BackupSignature.FileName))
                {
                    var to = Inside(full, name);
                    Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                    File.Copy(Inside(from, name), to);
                }
            }
            else if (File.Exists(from))
            {
                try
                {
                    // ExtractToDirectory refuses entries that would land outside the folder (../, absolute paths, links out).
                    TarFile.ExtractToDirectory(from, full, overwriteFiles: false);
                }
                catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or FormatException or IOException and not FileNotFoundException)
                {
                    throw new BackupInvalidException($"'{from}' is not a readable backup (tar): {ex.Message}");
                }
            }
            else
            {
                throw new FileNotFoundException($"No backup at '{from}' (a folder with {BackupManifest.FileName}, or a .tar file).", from);
            }

            // Checked where it now lies: the source may change while it is read.
            var (manifest, signer) = ReadSigned(full, certificate);
            FillFromEarlierBackups(full, manifest, signer, previous ?? [], certificate);
            Check(full, manifest);
            File.Delete(Path.Combine(full, BackupManifest.FileName));
            File.Delete(Path.Combine(full, BackupSignature.FileName));
            LogRestore.WriteMarker(full, new RestoredFrom(manifest.Taken, manifest.ChangeSequence, manifest.Logs) { SignedBy = signer });
            return manifest;
        }
        catch
        {
            // Nothing half-restored is left to be started by mistake.
            foreach (var entry in Directory.EnumerateFileSystemEntries(full))
            {
                if (Directory.Exists(entry))
                {
                    Directory.Delete(entry, recursive: true);
                }
                else
                {
                    File.Delete(entry);
                }
            }

            throw;
        }
    }

    /// <summary>Reads a backup folder's manifest and verifies its signature; returns it with the signer's key id.</summary>
    public static (BackupManifest Manifest, string Signer) ReadSigned(string folder, X509Certificate2? certificate = null)
    {
        var path = Path.Combine(folder, BackupManifest.FileName);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new BackupInvalidException($"'{folder}' is not a GovShare backup: {BackupManifest.FileName} is missing ({ex.Message}).");
        }

        var signature = Path.Combine(folder, BackupSignature.FileName);
        if (!File.Exists(signature))
        {
            throw new BackupInvalidException($"'{folder}': {BackupSignature.FileName} is missing, so the manifest is not the node's (format {BackupManifest.CurrentFormat} backups are signed); nothing was restored.");
        }

        return Verified(bytes, File.ReadAllBytes(signature), certificate, folder);
    }

    /// <summary>The manifest and signature of a backup (folder or tar), verified; for the earlier backups of an incremental one.</summary>
    public static (BackupManifest Manifest, string Signer) ReadSignedBackup(string backup, X509Certificate2? certificate = null)
    {
        if (Directory.Exists(backup))
        {
            return ReadSigned(backup, certificate);
        }

        byte[]? manifest = null, signature = null;
        try
        {
            using var tar = new TarReader(File.OpenRead(backup));
            // The manifest and its signature are the first two entries (NodeBackup.WriteTarAsync).
            for (var i = 0; i < 2 && tar.GetNextEntry() is { } entry; i++)
            {
                using var content = new MemoryStream();
                entry.DataStream?.CopyTo(content);
                if (entry.Name == BackupManifest.FileName)
                {
                    manifest = content.ToArray();
                }
                else if (entry.Name == BackupSignature.FileName)
                {
                    signature = content.ToArray();
                }
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or FormatException or IOException)
        {
            throw new BackupInvalidException($"'{backup}' is not a readable backup (tar): {ex.Message}");
        }

        if (manifest is null || signature is null)
        {
            throw new BackupInvalidException($"'{backup}' is not a signed GovShare backup: it does not begin with {BackupManifest.FileName} and {BackupSignature.FileName}.");
        }

        return Verified(manifest, signature, certificate, backup);
    }

    private static (BackupManifest, string) Verified(byte[] manifestBytes, byte[] signatureBytes, X509Certificate2? certificate, string where)
    {
        BackupManifest manifest;
        BackupSignature signature;
        try
        {
            manifest = JsonSerializer.Deserialize<BackupManifest>(manifestBytes, LogJson.Options) ?? throw new JsonException("empty");
            signature = JsonSerializer.Deserialize<BackupSignature>(signatureBytes, LogJson.Options) ?? throw new JsonException("empty");
        }
        catch (JsonException ex)
        {
            throw new BackupInvalidException($"'{where}' is not a GovShare backup: {BackupManifest.FileName} or {BackupSignature.FileName} is unreadable ({ex.Message}).");
        }

        if (manifest.Format != BackupManifest.CurrentFormat || manifest.Files is null || manifest.Logs is null)
        {
            throw new BackupInvalidException($"'{where}': format '{manifest.Format}' is not {BackupManifest.CurrentFormat}.");
        }

        if (manifest.DataFolderFormat > DataFolderFormat.Current)
        {
            throw new BackupInvalidException($"The backup is of data folder format {manifest.DataFolderFormat}; this build reads up to {DataFolderFormat.Current}. Restore it with the release that took it.");
        }

        try
        {
            return (manifest, signature.Verify(manifestBytes, certificate, where));
        }
        catch (CryptographicException ex)
        {
            throw new BackupInvalidException($"'{where}': the certificate in {BackupSignature.FileName} is unreadable ({ex.Message}).");
        }
    }

    /// <summary>An incremental backup's files kept in earlier backups: each taken from the backup the manifest names, signed by the same key.</summary>
    private static void FillFromEarlierBackups(string target, BackupManifest manifest, string signer, IReadOnlyList<string> previous, X509Certificate2? certificate)
    {
        var needed = manifest.Files.Where(f => f.From is not null).GroupBy(f => f.From!).ToDictionary(g => g.Key, g => g.ToDictionary(f => f.Path, StringComparer.Ordinal), StringComparer.Ordinal);
        if (needed.Count == 0)
        {
            return;
        }

        var earlier = new Dictionary<string, (string Path, BackupManifest Manifest)>(StringComparer.Ordinal);
        foreach (var backup in previous)
        {
            var (other, otherSigner) = ReadSignedBackup(backup, certificate);
            if (otherSigner != signer || other.Node != manifest.Node)
            {
                throw new BackupInvalidException($"'{backup}' (backup {other.Id} of node {other.Node}) is not signed with the key that signed this backup: it is not part of this node's chain of backups; nothing was restored.");
            }

            earlier[other.Id] = (backup, other);
        }

        foreach (var (id, files) in needed)
        {
            if (!earlier.TryGetValue(id, out var source))
            {
                throw new BackupInvalidException($"This is an incremental backup (taken {manifest.Taken:u} since backup {manifest.Since}): {files.Count} of its files are kept in the earlier backup {id}, which was not given. Give every earlier backup of the chain with --previous; nothing was restored.");
            }

            if (Directory.Exists(source.Path))
            {
                foreach (var name in files.Keys)
                {
                    var from = Inside(source.Path, name);
                    if (!File.Exists(from))
                    {
                        throw new BackupInvalidException($"The earlier backup '{source.Path}' ({id}) lacks {name}, which this backup refers to; nothing was restored.");
                    }

                    var to = Inside(target, name);
                    Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                    File.Copy(from, to);
                }
            }
            else
            {
                var left = new HashSet<string>(files.Keys, StringComparer.Ordinal);
                using var tar = new TarReader(File.OpenRead(source.Path));
                while (left.Count > 0 && tar.GetNextEntry() is { } entry)
                {
                    if (left.Remove(entry.Name))
                    {
                        var to = Inside(target, entry.Name);
                        Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                        entry.ExtractToFile(to, overwrite: false);
                    }
                }

                if (left.Count > 0)
                {
                    throw new BackupInvalidException($"The earlier backup '{source.Path}' ({id}) lacks {string.Join(", ", left.Take(5))}, which this backup refers to; nothing was restored.");
                }
            }
        }
    }

    /// <summary>A manifest path inside <paramref name="root"/>; a path that would leave it is refused.</summary>
    private static string Inside(string root, string name)
    {
        var rootFull = Path.GetFullPath(root);
        var path = Path.GetFullPath(Path.Combine(rootFull, name));
        return path.StartsWith(rootFull.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal)
            ? path
            : throw new BackupInvalidException($"The manifest names '{name}', which lies outside the backup; nothing was restored.");
    }

    /// <summary>
    /// Checks every file of a backup folder against its manifest: none missing, none changed, none added. Files an
    /// incremental backup keeps in earlier backups may be absent when <paramref name="references"/> is true.
    /// </summary>
    public static BackupManifest Check(string folder, BackupManifest? expected = null, bool references = false)
    {
        var manifest = expected ?? ReadSigned(folder).Manifest;
        var listed = manifest.Files.Where(f => !(references && f.From is not null)).ToDictionary(f => f.Path, StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            var name = Path.GetRelativePath(folder, file).Replace('\\', '/');
            if (name is BackupManifest.FileName or BackupSignature.FileName)
            {
                continue;
            }

            if (!listed.Remove(name, out var entry))
            {
                problems.Add($"{name} is not in the manifest (added)");
                continue;
            }

            using var stream = File.OpenRead(file);
            if (stream.Length != entry.Bytes || Convert.ToHexStringLower(SHA256.HashData(stream)) != entry.Sha256)
            {
                problems.Add($"{name} differs from the manifest (changed or truncated: {stream.Length} bytes, manifest {entry.Bytes}){(entry.From is null ? "" : $", taken from the earlier backup {entry.From}")}");
            }
        }

        problems.AddRange(listed.Keys.Select(name => $"{name} is missing"));
        if (problems.Count > 0)
        {
            throw new BackupInvalidException($"The backup at '{folder}' does not match its manifest, so it is damaged or tampered with; nothing was restored: {string.Join("; ", problems.Take(10))}{(problems.Count > 10 ? $" … ({problems.Count} problems)" : "")}.");
        }

        return manifest;
    }
}
