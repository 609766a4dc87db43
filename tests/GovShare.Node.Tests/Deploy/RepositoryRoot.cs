namespace GovShare.Node.Tests.Deploy;

/// <summary>The checkout the tests run from: the nearest folder above the test binaries holding GovShare.sln.</summary>
internal static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(folder.FullName, "GovShare.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"no GovShare.sln above {AppContext.BaseDirectory}");
    }
}
