namespace GovShare.Cli.Commands;

/// <summary>
/// Where a command keeps its temporary files (a push's staged Arrow file, spooled standard input,
/// a pull's <c>.partial</c>), removed when the process ends however it ends short of a kill: the
/// adapters delete their own files on a clean failure, but Ctrl+C can end the process while a
/// read is blocked, before that code runs — the 180 MB file left behind in issue 21.
/// </summary>
internal static class TemporaryFiles
{
    private static readonly Lock Gate = new();
    private static readonly List<string> Paths = [];
    private static string? _folder;

    static TemporaryFiles() => AppDomain.CurrentDomain.ProcessExit += (_, _) => DeleteAll();

    /// <summary>A folder of this process under the system temp folder (TMPDIR), deleted at exit.</summary>
    public static string Folder
    {
        get
        {
            lock (Gate)
            {
                if (_folder is null)
                {
                    _folder = Directory.CreateTempSubdirectory("govshare-").FullName;
                    Paths.Add(_folder);
                }

                return _folder;
            }
        }
    }

    /// <summary>Deletes <paramref name="path"/> (a file) when the process ends, if it still exists then.</summary>
    public static void DeleteAtExit(string path)
    {
        lock (Gate)
        {
            Paths.Add(path);
        }
    }

    private static void DeleteAll()
    {
        lock (Gate)
        {
            foreach (var path in Paths)
            {
                try
                {
                    if (Directory.Exists(path))
                    {
                        Directory.Delete(path, recursive: true);
                    }
                    else
                    {
                        File.Delete(path);
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Exiting anyway: a file that cannot be deleted is left to the system's temp cleaner.
                }
            }
        }
    }
}
