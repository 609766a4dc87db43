using System.Text;
using System.Text.Json;
using GovShare.Cli.Commands;
using GovShare.Node.Desensitisation;
using GovShare.Node.Requests;
using GovShare.Node.Tests.Cli;
using GovShare.Node.Tests.Exchange;

namespace GovShare.Node.Tests.Compare;

/// <summary>
/// <c>govshare compare</c> as a department runs it, the built binary against a real node: its
/// CSV copy of the residents (with a column that is no item, left out), redirected and on a
/// pseudo-terminal; exact counts printed, exact keys written; a refusal and a usage error with
/// their exit codes.
/// </summary>
public sealed class CompareCommandTests
{
    private const string Purpose = "social-assistance";

    [Fact]
    public async Task Compare_Csv_SummaryAndKeysFile_RedirectedAndOnATerminal_RefusalsWithTheirExitCodes()
    {
        await using var f = await CompareApiTests.StartAsync();
        f.GrantTo(f.User, CompareApiTests.Keyed, Purpose, new GrantedItem("id_number", MaskingRule.None), new GrantedItem("name", MaskingRule.None));
        var root = Directory.CreateTempSubdirectory("govshare-compare-cli-").FullName;
        try
        {
            var user = GovShareProcess.DepartmentFolder(root, "user", f.Node.ExchangeAddress, f.User, f.Pki.Folder.TrustAnchorsFile, Purpose);
            var csv = new StringBuilder("公民身份号码,姓名,备注\n");
            foreach (var i in Enumerable.Range(0, 900).Concat(Enumerable.Range(1000, 50)))
            {
                csv.Append(ExchangeFixture.IdNumber(i)).Append(',').Append(i % 10 == 0 ? "王五" : ExchangeFixture.Name(i)).Append(",note ").Append(i).Append('\n');
            }

            await File.WriteAllTextAsync(Path.Combine(user, "低保对象.csv"), csv.ToString(), new UTF8Encoding(false));
            string[] command = ["compare", "--csv", "低保对象.csv", "--resource", CompareApiTests.Keyed, "--key", "公民身份号码", "--keys-file", "differing.csv"];

            var run = await GovShareProcess.RunAsync(user, command);

            Assert.True(run.ExitCode == ExitCodes.Ok, run.ToString());
            Assert.Contains("Compared 950 rows with 101001/000011 version 1 (1,000 rows held)", run.Stdout, StringComparison.Ordinal);
            Assert.Contains("Rows in both: 900   only yours: 50   only the provider's: 100", run.Stdout, StringComparison.Ordinal);
            Assert.Matches(@"姓名 \(name\)\s+810\s+90\s+0\s+0", run.Stdout);
            Assert.Contains("Differing rows: 90. Wrote 140 keys to differing.csv.", run.Stdout, StringComparison.Ordinal);
            Assert.Contains("Left out 1 column(s) that are not the key or compared items: 备注.", run.Stderr, StringComparison.Ordinal);
            var lines = await File.ReadAllLinesAsync(Path.Combine(user, "differing.csv"));
            Assert.Equal("公民身份号码,difference", lines[0].TrimStart('\uFEFF'));
            var expected = Enumerable.Range(0, 900).Where(i => i % 10 == 0).Select(i => ExchangeFixture.IdNumber(i) + ",differs: name").Order(StringComparer.Ordinal)
                .Concat(Enumerable.Range(1000, 50).Select(i => ExchangeFixture.IdNumber(i) + ",not held by the provider").Order(StringComparer.Ordinal));
            Assert.Equal(expected, lines.Skip(1));
            Assert.True(run.ShowsNoInternals, run.ToString());

            // From the comparison the user opens an inconsistency case (issue 23), naming the exchange the summary printed.
            var comparison = System.Text.RegularExpressions.Regex.Match(run.Stdout, @"exchange (\S+)\.").Groups[1].Value;
            string[] openCase = ["dispute", "case", CompareApiTests.Keyed, "--comparison", comparison, "--data-version", "1", "--item", "姓名", "--row-key", ExchangeFixture.IdNumber(10), "--description", "比对发现姓名不一致"];
            var opened = await GovShareProcess.RunAsync(user, openCase);
            Assert.True(opened.ExitCode == ExitCodes.Ok, opened.ToString());
            var openedCase = JsonDocument.Parse(opened.Stdout).RootElement;
            Assert.Equal(("inconsistent", comparison, "name"), (openedCase.GetProperty("kind").GetString(), openedCase.GetProperty("comparisonId").GetString(), openedCase.GetProperty("items")[0].GetString()));

            // On a terminal: the same answer, the progress lines drawn in place.
            var terminal = await GovShareProcess.RunOnTerminalAsync(user, command);
            Assert.True(terminal.ExitCode == ExitCodes.Ok, terminal.ToString());
            Assert.Contains("Rows in both: 900   only yours: 50   only the provider's: 100", terminal.Stdout, StringComparison.Ordinal);

            // A department without a grant: the node's 403, readably, exit 1; no keys file.
            var other = GovShareProcess.DepartmentFolder(root, "other", f.Node.ExchangeAddress, f.Other, f.Pki.Folder.TrustAnchorsFile, Purpose);
            File.Copy(Path.Combine(user, "低保对象.csv"), Path.Combine(other, "低保对象.csv"));
            var refused = await GovShareProcess.RunAsync(other, ["compare", "--csv", "低保对象.csv", "--resource", CompareApiTests.Keyed, "--items", "姓名", "--keys-file", "refused.csv"]);
            Assert.True(refused.ExitCode == ExitCodes.Failed, refused.ToString());
            Assert.Contains("share request", refused.Stderr, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(other, "refused.csv")));
            Assert.True(refused.ShowsNoInternals, refused.ToString());

            // Nor may it open a case from the user's comparison: the node's 403, exit 1.
            var notTheirs = await GovShareProcess.RunAsync(other, openCase);
            Assert.True(notTheirs.ExitCode == ExitCodes.Failed, notTheirs.ToString());
            Assert.Contains("another department", notTheirs.Stderr, StringComparison.Ordinal);
            Assert.True(notTheirs.ShowsNoInternals, notTheirs.ToString());

            // The user's mistakes are said as a comparison's: nothing was compared (a comparison never pushes), no keys file.
            (string[] Arguments, int ExitCode, string Says)[] mistakes =
            [
                (["--items", "姓名,出生日期"], ExitCodes.Usage, "Item birth_date (出生日期) is not a column of your copy: the key and the compared items must be."),
                (["--items", "婚姻状况"], ExitCodes.Usage, "'婚姻状况' is not an item of 101001/000011"),
            ];
            foreach (var (arguments, exitCode, says) in mistakes)
            {
                var mistake = await GovShareProcess.RunAsync(user, ["compare", "--csv", "低保对象.csv", "--resource", CompareApiTests.Keyed, "--keys-file", "mistake.csv", .. arguments]);
                Assert.True(mistake.ExitCode == exitCode, mistake.ToString());
                Assert.Contains("Your copy does not match the catalog entry of 101001/000011; nothing was compared:", mistake.Stderr, StringComparison.Ordinal);
                Assert.Contains(says, mistake.Stderr, StringComparison.Ordinal);
                Assert.DoesNotContain("pushed", mistake.Stderr, StringComparison.Ordinal);
            }

            var missing = await GovShareProcess.RunAsync(user, ["compare", "--csv", "no-such.csv", "--resource", CompareApiTests.Keyed, "--keys-file", "mistake.csv"]);
            Assert.True(missing.ExitCode == ExitCodes.Usage, missing.ToString());
            Assert.EndsWith("no-such.csv does not exist. Nothing was compared; the keys file was not written.", missing.Stderr.TrimEnd(), StringComparison.Ordinal);
            Assert.DoesNotContain("pushed", missing.Stderr, StringComparison.Ordinal);
            Assert.True(missing.ShowsNoInternals, missing.ToString());

            Assert.False(File.Exists(Path.Combine(user, "mistake.csv")));

            // No source: a usage error, exit 2.
            var usage = await GovShareProcess.RunAsync(user, ["compare", "--resource", CompareApiTests.Keyed]);
            Assert.True(usage.ExitCode == ExitCodes.Usage, usage.ToString());
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
