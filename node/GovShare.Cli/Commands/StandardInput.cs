namespace GovShare.Cli.Commands;

/// <summary>
/// <c>--csv -</c>: standard input spooled to a temporary file, because a push reads its source
/// more than once (encoding detection, then the conversion) and a pipe can be read only once.
/// </summary>
internal static class StandardInput
{
    public static string Spool()
    {
        var path = Path.Combine(TemporaryFiles.Folder, "stdin.txt");
        using var input = Console.OpenStandardInput();
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        input.CopyTo(file);
        return path;
    }
}
