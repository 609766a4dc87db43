using System.Reflection;
using System.Text.RegularExpressions;
using GovShare.Node.Tests.Deploy;

namespace GovShare.Node.Tests.Layers;

/// <summary>
/// Keeps the product library layered (docs/ARCHITECTURE.md draws it): the kernel uses no
/// feature, features depend only on the folders listed for them here, and the composition root
/// (Hosting) is used by nothing. A new folder must be added to <see cref="Allowed"/>, which is
/// the decision of where it sits. The sources are read, not the assembly: within one assembly a
/// reference between namespaces leaves no trace in its metadata.
/// </summary>
public sealed partial class LayerTests
{
    /// <summary>What each feature folder may use. Read bottom up: a folder names only folders above it in this list.</summary>
    internal static readonly IReadOnlyDictionary<string, string[]> Allowed = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["Kernel"] = [],
        ["Calendar"] = ["Kernel"],
        ["Desensitisation"] = ["Kernel"],
        ["Identity"] = ["Kernel"],
        ["Pki"] = ["Kernel", "Identity"],
        ["Logs"] = ["Kernel", "Identity"],
        ["Catalog"] = ["Kernel", "Calendar", "Desensitisation", "Identity", "Logs"],
        ["Requests"] = ["Kernel", "Calendar", "Desensitisation", "Identity", "Logs", "Catalog"],
        ["Exchange"] = ["Kernel", "Calendar", "Desensitisation", "Identity", "Logs", "Catalog", "Requests"],
        ["Hierarchy"] = ["Kernel", "Identity", "Logs", "Catalog"],
        ["Compare"] = ["Kernel", "Desensitisation", "Identity", "Logs", "Catalog", "Requests", "Exchange"],
        ["Evaluation"] = ["Kernel", "Calendar", "Identity", "Logs", "Catalog", "Requests", "Exchange", "Hierarchy"],
        ["Management"] = ["Kernel", "Identity", "Logs"],
        ["OperatorConsole"] = ["Kernel", "Calendar", "Identity", "Logs", "Catalog", "Requests", "Hierarchy", "Evaluation"],
        ["Hosting"] = ["Kernel", "Calendar", "Desensitisation", "Identity", "Pki", "Logs", "Catalog", "Requests", "Exchange", "Hierarchy", "Compare", "Evaluation", "Management", "OperatorConsole"],
    };

    private static readonly string Library = Path.Combine(RepositoryRoot.Path, "node", "GovShare.Node");

    [Fact]
    public void Features_ReferenceOnlyTheLayersBelowThem()
    {
        var broken = new List<string>();
        foreach (var (folder, references) in References(Library))
        {
            var allowed = Allowed.TryGetValue(folder, out var list) ? list : [];
            broken.AddRange(references.Where(r => !allowed.Contains(r.Folder, StringComparer.Ordinal))
                .Select(r => $"{folder} -> {r.Folder} ({r.File}: {r.Evidence})"));
        }

        Assert.True(broken.Count == 0, "References against the layers:\n" + string.Join("\n", broken));
    }

    [Fact]
    public void EveryFolderOfTheLibrary_HasItsPlaceInTheLayers()
    {
        var folders = FeatureFolders(Library);
        Assert.Empty(folders.Except(Allowed.Keys, StringComparer.Ordinal));
        Assert.Empty(Allowed.Keys.Except(folders, StringComparer.Ordinal));
    }

    [Fact]
    public void TheLayers_HaveNoCycle_AndNothingUsesTheCompositionRoot()
    {
        Assert.DoesNotContain(Allowed, a => a.Value.Contains("Hosting", StringComparer.Ordinal));
        var order = Allowed.Keys.ToList();
        foreach (var (folder, uses) in Allowed)
        {
            // Each folder names only folders listed before it: a topological order, so no cycle.
            Assert.All(uses, used => Assert.True(order.IndexOf(used) < order.IndexOf(folder), $"{folder} may use {used}, which is listed after it"));
        }
    }

    [Fact]
    public void TheWireContract_ReferencesNoGovShareAssembly()
    {
        // The node, the adapters, the CLI and the benchmarks share it; it must not pull any of them in.
        var contract = typeof(GovShare.Contract.ItemDataType).Assembly;
        Assert.DoesNotContain(contract.GetReferencedAssemblies(), a => a.Name!.StartsWith("GovShare", StringComparison.Ordinal));
        var adapters = Assembly.Load("GovShare.Adapters");
        Assert.DoesNotContain(adapters.GetReferencedAssemblies(), a => a.Name == "GovShare.Node");
    }

    [Fact]
    public void TheCheck_FindsAReferenceThatPointsUp()
    {
        // The check itself: a kernel file that imports a feature, and one that names a type
        // qualified by its folder, are both found.
        var root = Directory.CreateTempSubdirectory("govshare-layers-");
        try
        {
            Directory.CreateDirectory(Path.Combine(root.FullName, "Kernel"));
            Directory.CreateDirectory(Path.Combine(root.FullName, "Catalog"));
            File.WriteAllText(Path.Combine(root.FullName, "Kernel", "A.cs"), "using GovShare.Node.Catalog;\nnamespace GovShare.Node.Kernel;\n// Catalog.Mentioned in a comment is not a reference.\n");
            File.WriteAllText(Path.Combine(root.FullName, "Kernel", "B.cs"), "namespace GovShare.Node.Kernel;\nclass B { Catalog.CatalogStore? s; string t = \"Catalog.InAString\"; }\n");
            var found = References(root.FullName).Single(f => f.Folder == "Kernel").References;
            Assert.Equal(["A.cs", "B.cs"], found.Select(r => r.File).Order(StringComparer.Ordinal));
            Assert.All(found, r => Assert.Equal("Catalog", r.Folder));
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    private static List<string> FeatureFolders(string library) =>
        [.. Directory.GetDirectories(library).Select(Path.GetFileName).OfType<string>().Where(f => f is not ("bin" or "obj"))];

    /// <summary>Per folder, the other folders its sources name: by using directive, by full or folder-qualified name.</summary>
    private static IEnumerable<(string Folder, IReadOnlyList<(string Folder, string File, string Evidence)> References)> References(string library)
    {
        var folders = FeatureFolders(library);
        foreach (var folder in folders)
        {
            var found = new List<(string, string, string)>();
            foreach (var file in Directory.EnumerateFiles(Path.Combine(library, folder), "*.cs", SearchOption.AllDirectories))
            {
                var code = CodeOnly(File.ReadAllText(file));
                foreach (var other in folders.Where(f => f != folder))
                {
                    var match = Regex.Match(code, $@"\bGovShare\.Node\.{other}\b|(?<![\w.]){other}\.[A-Z]\w*");
                    if (match.Success)
                    {
                        found.Add((other, Path.GetFileName(file), match.Value));
                    }
                }
            }

            yield return (folder, found);
        }
    }

    /// <summary>The source without string literals and plain comments (XML doc comments stay: a cref is a reference).</summary>
    private static string CodeOnly(string source) => NotCode().Replace(source, "");

    [GeneratedRegex(@"""(?:[^""\\\n]|\\.)*""|(?<!/)//(?!/)[^\n]*")]
    private static partial Regex NotCode();
}
