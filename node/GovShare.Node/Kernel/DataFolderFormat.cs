using System.Globalization;

namespace GovShare.Node.Kernel;

/// <summary>
/// The data folder's format version, kept in <c>&lt;Node:DataPath&gt;/format-version</c> (one line, a
/// whole number), so that an upgrade can tell an old folder from a new one. At open, under the
/// folder's lock and before any feature reads a file: a folder of an older format is migrated one
/// step at a time (the file is rewritten after each step, so a crash resumes at the step it was in);
/// a folder of a newer format is refused, naming both versions, because an older build would read
/// it wrongly and could write over what it does not understand.
/// </summary>
public static class DataFolderFormat
{
    /// <summary>The format version file's name in the data folder.</summary>
    public const string FileName = "format-version";

    /// <summary>
    /// The format this build writes. Raise it with each change to what the folder holds that an
    /// older build could not read (state schema, logs' envelope, dataset metadata, layout) and add
    /// the step from the previous version to <see cref="Migrations"/>.
    /// </summary>
    public const int Current = 2;

    /// <summary>
    /// Version 1 is every folder written before the version file existed (releases up to and including
    /// the one that introduced it): a folder with data but no file is version 1.
    /// </summary>
    public const int Unversioned = 1;

    /// <summary>
    /// The steps from each older version to the next, in order: the step with <see cref="DataFolderMigration.From"/>
    /// = N turns a version N folder into a version N+1 folder. Each step runs with the folder locked and
    /// nothing else open, and must be safe to run again on a folder it already changed in part (a crash
    /// between its end and the version file's rewrite runs it again).
    /// </summary>
    public static IReadOnlyList<DataFolderMigration> Migrations { get; } =
    [
        // Version 2: a merge push publishes the previous version's segments with the rows it replaced
        // or deleted listed in the version record (Exchange/Datasets/DeletedRows). A version-1 build
        // would ignore that list and serve removed rows, so it must refuse a version-2 folder; a
        // version-1 folder holds no such list, so nothing is converted.
        new(1, "dataset versions may list deleted rows of their segments (merges by segments)", _ => { }),
    ];

    /// <summary>The folder's recorded version, <see cref="Unversioned"/> for a folder with data but no file, null for a new (empty) folder.</summary>
    /// <exception cref="DataFolderFormatException">The file exists but does not hold a version.</exception>
    public static int? Read(string folder)
    {
        var file = Path.Combine(folder, FileName);
        if (!File.Exists(file))
        {
            return HasData(folder) ? Unversioned : null;
        }

        var text = File.ReadAllText(file).Trim();
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var version) || version < 1)
        {
            throw new DataFolderFormatException(folder, $"The data folder '{folder}' has a format-version file that does not hold a format version ('{Shorten(text)}'). Restore the file (this build writes {Current}) or the folder from a backup.");
        }

        return version;
    }

    /// <summary>
    /// Brings the folder to <paramref name="current"/>: writes the version of a new folder, migrates an older one,
    /// refuses a newer one. Returns the version the folder had (null when it was new).
    /// </summary>
    /// <exception cref="DataFolderFormatException">The folder is of a newer format, or a step is missing.</exception>
    public static int? Ensure(string folder, int current = Current, IReadOnlyList<DataFolderMigration>? migrations = null)
    {
        migrations ??= Migrations;
        var found = Read(folder);
        if (found > current)
        {
            throw new DataFolderFormatException(folder,
                $"The data folder '{folder}' is in format version {found}, written by a newer GovShare release; this build reads format versions up to {current}. "
                + "Run the release that wrote it (or a later one), or restore a backup taken before the upgrade: an older build must not write into a newer folder.");
        }

        var version = found ?? current;
        while (version < current)
        {
            var step = migrations.SingleOrDefault(m => m.From == version)
                ?? throw new DataFolderFormatException(folder, $"The data folder '{folder}' is in format version {version} and this build has no migration from it to {version + 1} (it reads {current}). Upgrade through an intermediate release.");
            step.Apply(folder);
            version++;
            Write(folder, version);
        }

        if (found != current || !File.Exists(Path.Combine(folder, FileName)))
        {
            Write(folder, current);
        }

        return found;
    }

    /// <summary>
    /// Writes the version file whole: a temporary file, fsync'd, then renamed over the old one. The rename
    /// is not fsync'd (the folder's fsync lives in Logs, above this layer): a power cut right after it can
    /// bring back the previous version, and the step it had finished runs again — which steps allow.
    /// </summary>
    internal static void Write(string folder, int version)
    {
        var file = Path.Combine(folder, FileName);
        var temporary = file + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(System.Text.Encoding.ASCII.GetBytes(version.ToString(CultureInfo.InvariantCulture) + "\n"));
            stream.Flush(true);
        }

        File.Move(temporary, file, overwrite: true);
    }

    // What a node writes into its folder; the lock file alone (a start that failed) is not data.
    private static bool HasData(string folder) =>
        Directory.EnumerateFiles(folder, "govshare*.db").Any()
        || Directory.Exists(Path.Combine(folder, "logs"))
        || Directory.Exists(Path.Combine(folder, "datasets"));

    private static string Shorten(string text) => text.Length <= 20 ? text : text[..20] + "…";
}

/// <summary>One step of <see cref="DataFolderFormat.Migrations"/>: turns a folder of version <paramref name="From"/> into version From + 1.</summary>
/// <param name="From">The version the step reads.</param>
/// <param name="What">What changes, for the operator's log and the upgrade notes.</param>
/// <param name="Apply">The step, given the folder's path.</param>
public sealed record DataFolderMigration(int From, string What, Action<string> Apply);

/// <summary>The data folder is of a format this build cannot open (newer, or unreadable version file).</summary>
public sealed class DataFolderFormatException(string path, string message) : Exception(message)
{
    /// <summary>The data folder's path.</summary>
    public string FolderPath { get; } = path;
}
