namespace GovShare.Cli.Commands;

/// <summary>
/// <c>--csv -</c>: standard input spooled to a temporary file, because a push reads its source
/// more than once (encoding detection, then the conversion) and a pipe can be read only once.
/// The file is deleted when the process ends, Ctrl+C included.
/// </summary>
internal static class StandardInput
{
    public static string Spool()
    {
        var path = Path.Combine(Path.GetTempPath(), $"govshare-stdin-{Guid.NewGuid():N}.tmp");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => File.Delete(path);
        using var input = Console.OpenStandardInput();
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        input.CopyTo(file);
        return path;
    }
}
