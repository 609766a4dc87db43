using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace GovShare.Node.Logs;

/// <summary>
/// Compresses a closed segment to <c>archive/segment-…jsonl.gz</c> and appends an index line
/// holding the archive's SHA-256 and the hash of the index line before it, so an archive
/// replaced, removed or reordered shows. The live segment is deleted only after both are on disk.
/// </summary>
internal static class LogArchiver
{
    /// <summary>Archives <paramref name="segment"/> (records <paramref name="firstSeq"/>..<paramref name="lastSeq"/> of <paramref name="kind"/>) at zlib level <paramref name="compressionLevel"/> (<see cref="LogOptions.ArchiveCompressionLevel"/>, 1 to 9).</summary>
    public static void Archive(LogStore store, LogKind kind, string segment, long firstSeq, long lastSeq, int compressionLevel)
    {
        var folder = Path.Combine(store.FolderOf(kind), LogStore.ArchiveFolder);
        Directory.CreateDirectory(folder);
        var name = Path.GetFileName(segment) + ".gz";
        var target = Path.Combine(folder, name);
        var temp = target + ".tmp";
        using (var input = new FileStream(segment, FileMode.Open, FileAccess.Read, FileShare.Read))
        using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            using (var gzip = new GZipStream(output, new ZLibCompressionOptions { CompressionLevel = compressionLevel }, leaveOpen: true))
            {
                input.CopyTo(gzip);
            }

            output.Flush(flushToDisk: true);
        }

        string sha;
        using (var check = File.OpenRead(temp))
        {
            sha = Convert.ToHexStringLower(SHA256.HashData(check));
        }

        File.Move(temp, target, overwrite: true);
        DirectorySync.Flush(folder);
        var index = store.ArchiveIndex(kind);
        var prev = index.Count > 0 && index[^1] is { } last ? last.Hash : LogEntry.GenesisHash;
        var entry = new ArchiveIndexEntry(name, firstSeq, lastSeq, sha, prev, ArchiveIndexEntry.ComputeHash(name, firstSeq, lastSeq, sha, prev));
        using (var indexFile = new FileStream(Path.Combine(folder, LogStore.IndexFile), FileMode.Append, FileAccess.Write, FileShare.Read))
        {
            indexFile.Write(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(entry, LogJson.Options) + "\n"));
            indexFile.Flush(flushToDisk: true);
        }

        DirectorySync.Flush(folder);
        File.Delete(segment);
    }
}
