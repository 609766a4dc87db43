using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;

namespace GovShare.Node.Management;

/// <summary>One file of a backup: its path (forward slashes, relative to the data folder), length and SHA-256.</summary>
public sealed record BackupFile(string Path, long Bytes, string Sha256);

/// <summary>
/// <c>MANIFEST.json</c> at the root of a backup: the data folder format, the change-log sequence the
/// state was copied at, each log's head, and every file with its hash. Restore refuses a backup whose
/// files differ from it.
/// </summary>
public sealed record BackupManifest(string Format, int DataFolderFormat, string Node, DateTimeOffset Taken, long ChangeSequence, IReadOnlyDictionary<LogKind, LogHead> Logs, IReadOnlyList<BackupFile> Files)
{
    public const string FileName = "MANIFEST.json";

    public const string CurrentFormat = "govshare-backup/1";
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
public sealed class NodeBackup(NodeDataFolder data, LogWriter log, TimeProvider time, string datasetFolder)
{
    /// <summary>Where backups are staged; never part of a backup.</summary>
    public const string WorkFolder = "backup-work";

    // Never copied: the lock, the live state database (copied logically by Snapshot), staging, old set-aside states.
    private static readonly string[] Skipped = ["node.lock", WorkFolder, "state-set-aside", "logs", "datasets", LogRestore.MarkerFile];

    private static readonly JsonSerializerOptions ManifestJson = new(LogJson.Options) { WriteIndented = true };

    /// <summary>Stages a backup and returns its folder (the caller streams it with <see cref="WriteTarAsync"/> and deletes it).</summary>
    public async Task<string> StageAsync(CancellationToken cancellation)
    {
        var work = Path.Combine(data.SubFolder(WorkFolder), ExchangeId.New(time).Value);
        try
        {
            var sequence = data.State.Snapshot(work);
            // Right after the state: the versions it names, before a newer push's retention prunes them.
            CopyDatasets(work);
            var heads = new Dictionary<LogKind, LogHead>();
            foreach (var kind in Enum.GetValues<LogKind>())
            {
                heads[kind] = await CopyLogAsync(kind, work, cancellation);
            }

            // Again after the logs: a version's file is in place before its push is logged, so every
            // version the copied logs name is copied too (files already copied are kept).
            CopyDatasets(work);

            CopyTheRest(data.Path, work);
            var files = Directory.EnumerateFiles(work, "*", SearchOption.AllDirectories)
                .Select(f => Describe(work, f))
                .OrderBy(f => f.Path, StringComparer.Ordinal)
                .ToList();
            var manifest = new BackupManifest(BackupManifest.CurrentFormat, Kernel.DataFolderFormat.Current, log.Node, time.GetUtcNow(), sequence, heads, files);
            await File.WriteAllBytesAsync(Path.Combine(work, BackupManifest.FileName), JsonSerializer.SerializeToUtf8Bytes(manifest, ManifestJson), cancellation);
            return work;
        }
        catch
        {
            Discard(work);
            throw;
        }
    }

    /// <summary>Streams a staged backup as a tar, the manifest first.</summary>
    public static async Task WriteTarAsync(string staged, Stream output, CancellationToken cancellation)
    {
        await using var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        await tar.WriteEntryAsync(Path.Combine(staged, BackupManifest.FileName), BackupManifest.FileName, cancellation);
        foreach (var file in Directory.EnumerateFiles(staged, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var name = Path.GetRelativePath(staged, file).Replace('\\', '/');
            if (name != BackupManifest.FileName)
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

    private void CopyDatasets(string work)
    {
        var source = datasetFolder;
        if (!Directory.Exists(source))
        {
            return;
        }

        // Dataset versions are immutable once renamed into place; pushes still in flight (*.tmp) are not data yet.
        foreach (var file in Directory.EnumerateFiles(source))
        {
            if (file.EndsWith(".tmp", StringComparison.Ordinal))
            {
                continue;
            }

            var target = Path.Combine(work, "datasets", Path.GetFileName(file));
            if (File.Exists(target))
            {
                continue;
            }

            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            try
            {
                File.Copy(file, target);
            }
            catch (FileNotFoundException)
            {
                // Removed by retention after the listing: the state may name it, as it would after retention ran.
            }
        }
    }

    /// <summary>Copies one log consistently; retried when the archiver moved a segment under the copy.</summary>
    private async Task<LogHead> CopyLogAsync(LogKind kind, string work, CancellationToken cancellation)
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
                        // The statistics file is a cache of the chain (ExchangeStatistics): rebuilt after a restore, never copied.
                        if (relative is LogStore.CheckpointFile or LogStore.WatermarkFile or ExchangeStatistics.FileName || relative == Path.Combine("archive", "index.jsonl") || file.EndsWith(".tmp", StringComparison.Ordinal))
                        {
                            continue;
                        }

                        CopyCompleteLines(file, Path.Combine(folder, relative));
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
}

/// <summary>
/// <c>govshare node restore</c>: checks a backup against its manifest and lays it out as a data folder,
/// with the <see cref="LogRestore.MarkerFile"/> that makes the first start write a restore record into each log.
/// No node may run on the target, which must be empty.
/// </summary>
public static class NodeRestore
{
    /// <summary>Restores <paramref name="from"/> (a backup folder, or a tar file) into the empty <paramref name="target"/>; returns the manifest.</summary>
    /// <exception cref="BackupInvalidException">The backup does not match its manifest, or is not a backup.</exception>
    /// <exception cref="IOException">The target is not empty.</exception>
    public static BackupManifest Restore(string from, string target)
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
                var manifest = Check(from);
                foreach (var file in manifest.Files)
                {
                    var to = Path.Combine(full, file.Path);
                    Directory.CreateDirectory(Path.GetDirectoryName(to)!);
                    File.Copy(Path.Combine(from, file.Path), to);
                }

                // Copied files are checked again: the source may change while it is read.
                Check(full, manifest);
                return Finish(full, manifest);
            }

            if (!File.Exists(from))
            {
                throw new FileNotFoundException($"No backup at '{from}' (a folder with {BackupManifest.FileName}, or a .tar file).", from);
            }

            try
            {
                // ExtractToDirectory refuses entries that would land outside the folder (../, absolute paths, links out).
                TarFile.ExtractToDirectory(from, full, overwriteFiles: false);
            }
            catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or FormatException or IOException and not FileNotFoundException)
            {
                throw new BackupInvalidException($"'{from}' is not a readable backup (tar): {ex.Message}");
            }

            return Finish(full, Check(full));
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

    /// <summary>Checks every file of a backup folder against its manifest: none missing, none changed, none added.</summary>
    public static BackupManifest Check(string folder, BackupManifest? expected = null)
    {
        var path = Path.Combine(folder, BackupManifest.FileName);
        BackupManifest manifest;
        try
        {
            manifest = expected ?? JsonSerializer.Deserialize<BackupManifest>(File.ReadAllBytes(path), LogJson.Options)
                ?? throw new BackupInvalidException($"{path} is empty.");
        }
        catch (Exception ex) when (ex is JsonException or FileNotFoundException or DirectoryNotFoundException)
        {
            throw new BackupInvalidException($"'{folder}' is not a GovShare backup: {BackupManifest.FileName} is missing or unreadable ({ex.Message}).");
        }

        if (manifest.Format != BackupManifest.CurrentFormat || manifest.Files is null || manifest.Logs is null)
        {
            throw new BackupInvalidException($"{path}: format '{manifest.Format}' is not {BackupManifest.CurrentFormat}.");
        }

        if (manifest.DataFolderFormat > DataFolderFormat.Current)
        {
            throw new BackupInvalidException($"The backup is of data folder format {manifest.DataFolderFormat}; this build reads up to {DataFolderFormat.Current}. Restore it with the release that took it.");
        }

        var listed = manifest.Files.ToDictionary(f => f.Path, StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            var name = Path.GetRelativePath(folder, file).Replace('\\', '/');
            if (name == BackupManifest.FileName)
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
                problems.Add($"{name} differs from the manifest (changed or truncated: {stream.Length} bytes, manifest {entry.Bytes})");
            }
        }

        problems.AddRange(listed.Keys.Select(name => $"{name} is missing"));
        if (problems.Count > 0)
        {
            throw new BackupInvalidException($"The backup at '{folder}' does not match its manifest, so it is damaged or tampered with; nothing was restored: {string.Join("; ", problems.Take(10))}{(problems.Count > 10 ? $" … ({problems.Count} problems)" : "")}.");
        }

        return manifest;
    }

    private static BackupManifest Finish(string folder, BackupManifest manifest)
    {
        File.Delete(Path.Combine(folder, BackupManifest.FileName));
        LogRestore.WriteMarker(folder, new RestoredFrom(manifest.Taken, manifest.ChangeSequence, manifest.Logs));
        return manifest;
    }
}
