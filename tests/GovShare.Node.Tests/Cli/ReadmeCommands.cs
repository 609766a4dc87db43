using System.Text;
using GovShare.Node.Tests.Deploy;

namespace GovShare.Node.Tests.Cli;

/// <summary>
/// The <c>govshare</c> command lines README.md and adapters/README.md show, read from the files
/// themselves, so the journey tests run what a reader copies and notice when a line changes.
/// </summary>
internal static class ReadmeCommands
{
    /// <summary>README.md and adapters/README.md, as they are in the repository.</summary>
    public static string Read(string file) => File.ReadAllText(Path.Combine(RepositoryRoot.Path, file));

    /// <summary>The README's <c>govshare …</c> command lines (continuations joined, comments dropped), as argument lists.</summary>
    public static List<string[]> Lines(string readme) =>
        [.. readme.Replace("\\\n", " ", StringComparison.Ordinal).Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.StartsWith("govshare ", StringComparison.Ordinal))
            .Select(l => Words(l.Split(" #")[0])[1..])];

    /// <summary>A command line split as a POSIX shell splits it (single and double quotes; no expansions).</summary>
    public static string[] Words(string line)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        char? quote = null;
        foreach (var c in line)
        {
            if (quote is not null)
            {
                if (c == quote)
                {
                    quote = null;
                }
                else
                {
                    word.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
            }
            else
            {
                word.Append(c);
                inWord = true;
            }
        }

        if (inWord)
        {
            words.Add(word.ToString());
        }

        return [.. words];
    }
}
