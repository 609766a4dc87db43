using System.Reflection;
using GovShare.Node.Tests.Compare;
using GovShare.Node.Tests.Management;

namespace GovShare.Node.Tests.Cli;

/// <summary>
/// Every <c>govshare</c> line in README.md's and adapters/README.md's code blocks has a test that
/// runs it. The department's lines are run as the built binary, redirected and on a terminal, by
/// the tests named here (most read the line from the README itself); a line added to a README
/// fails this test until a test for it is named — or, for a line not yet run as the built binary on
/// a terminal too, listed as a known gap with its reason, so the gap stays visible.
/// </summary>
public sealed class ReadmeCommandCoverageTests
{
    /// <summary>Command (its first words) → the tests that run it as the built <c>govshare</c> (the department's: redirected and on a terminal).</summary>
    private static readonly Dictionary<string, (Type Class, string Test)[]> Covered = new(StringComparer.Ordinal)
    {
        ["push"] = [(typeof(DepartmentJourneyTests), nameof(DepartmentJourneyTests.Readme_DepartmentCommands_AsWritten_RedirectedAndOnATerminal))],
        ["sync"] =
        [
            (typeof(DepartmentJourneyTests), nameof(DepartmentJourneyTests.Readme_DepartmentCommands_AsWritten_RedirectedAndOnATerminal)),
            (typeof(DepartmentJourneyTests), nameof(DepartmentJourneyTests.SyncEvery_ChangesBetweenRounds_GoAsMergePushes_StoppedByCtrlCOrSigterm_ExitsCleanly_NoTemporaryFiles)),
        ],
        ["pull"] = [(typeof(DepartmentJourneyTests), nameof(DepartmentJourneyTests.Journey_Gb18030EveryType_PushPullSync_RedirectedAndOnATerminal))],
        ["compare"] =
        [
            (typeof(ReadmeJourneyTests), nameof(ReadmeJourneyTests.Readme_Compare_AsWritten_On100000Rows_RedirectedAndOnATerminal_ThenTheCaseFromIt)),
            (typeof(CompareCommandTests), nameof(CompareCommandTests.Compare_Csv_SummaryAndKeysFile_RedirectedAndOnATerminal_RefusalsWithTheirExitCodes)),
        ],
        ["dispute case"] = [(typeof(ReadmeJourneyTests), nameof(ReadmeJourneyTests.Readme_Compare_AsWritten_On100000Rows_RedirectedAndOnATerminal_ThenTheCaseFromIt))],
        ["request apply"] = [(typeof(ReadmeJourneyTests), nameof(ReadmeJourneyTests.Readme_RequestApply_Inbox_ApproveDeny_RequestAndGrantLists_TablesOnATerminal_JsonRedirected_ThenThePull))],
        ["node trust"] = [(typeof(TrustCommandsTests), nameof(TrustCommandsTests.NodeTrustAndRefreshCrl_ListTheDates_AfterANewCrlIsPublished))],
        ["node refresh-crl"] = [(typeof(TrustCommandsTests), nameof(TrustCommandsTests.NodeTrustAndRefreshCrl_ListTheDates_AfterANewCrlIsPublished))],
        ["certs operator"] = [(typeof(OperatorJourneyTests), nameof(OperatorJourneyTests.Readme_CertsOperator_DeptRegister_NodeLinkLinksRekey_AsWritten_RedirectedAndOnATerminal_ThenAForwardedPull))],
        ["dept register"] = [(typeof(OperatorJourneyTests), nameof(OperatorJourneyTests.Readme_CertsOperator_DeptRegister_NodeLinkLinksRekey_AsWritten_RedirectedAndOnATerminal_ThenAForwardedPull))],
        ["node link child"] = [(typeof(OperatorJourneyTests), nameof(OperatorJourneyTests.Readme_CertsOperator_DeptRegister_NodeLinkLinksRekey_AsWritten_RedirectedAndOnATerminal_ThenAForwardedPull))],
        ["node link parent"] = [(typeof(OperatorJourneyTests), nameof(OperatorJourneyTests.Readme_CertsOperator_DeptRegister_NodeLinkLinksRekey_AsWritten_RedirectedAndOnATerminal_ThenAForwardedPull))],
        ["node links"] = [(typeof(OperatorJourneyTests), nameof(OperatorJourneyTests.Readme_CertsOperator_DeptRegister_NodeLinkLinksRekey_AsWritten_RedirectedAndOnATerminal_ThenAForwardedPull))],
        ["node rekey"] = [(typeof(OperatorJourneyTests), nameof(OperatorJourneyTests.Readme_CertsOperator_DeptRegister_NodeLinkLinksRekey_AsWritten_RedirectedAndOnATerminal_ThenAForwardedPull))],
        ["evaluation scan"] = [(typeof(OperatorJourneyTests), nameof(OperatorJourneyTests.Readme_EvaluationScanAndReport_OfficeReportsShowAndPublish_AsWritten_RedirectedAndOnATerminal))],
        ["evaluation report"] = [(typeof(OperatorJourneyTests), nameof(OperatorJourneyTests.Readme_EvaluationScanAndReport_OfficeReportsShowAndPublish_AsWritten_RedirectedAndOnATerminal))],
        ["office reports show"] = [(typeof(OperatorJourneyTests), nameof(OperatorJourneyTests.Readme_EvaluationScanAndReport_OfficeReportsShowAndPublish_AsWritten_RedirectedAndOnATerminal))],
        ["office reports publish"] = [(typeof(OperatorJourneyTests), nameof(OperatorJourneyTests.Readme_EvaluationScanAndReport_OfficeReportsShowAndPublish_AsWritten_RedirectedAndOnATerminal))],
        ["node backup"] = [(typeof(NodeBackupTests), nameof(NodeBackupTests.BackupUnderLoad_RestoredIntoANewFolder_ServesTheDataAndEveryChainContinuesWithARestoreRecord))],
        ["node restore"] = [(typeof(NodeBackupTests), nameof(NodeBackupTests.BackupUnderLoad_RestoredIntoANewFolder_ServesTheDataAndEveryChainContinuesWithARestoreRecord))],
        ["log verify"] = [(typeof(LogVerifyJourneyTests), nameof(LogVerifyJourneyTests.Readme_LogVerify_AsWritten_IntactThenTampered_RedirectedAndOnATerminal_LeavesTheDataAsItWas))],
    };

    /// <summary>Lines not run both redirected and on a terminal yet, each with what runs it instead (none now; a new README line goes here until its test exists).</summary>
    private static readonly Dictionary<string, string> KnownGaps = new(StringComparer.Ordinal);

    private static readonly string[] Readmes = ["README.md", "adapters/README.md"];

    [Fact]
    public void Readme_EveryGovshareLine_IsRunByANamedTest_OrAKnownGap()
    {
        var lines = Readmes.SelectMany(file => ReadmeCommands.Lines(ReadmeCommands.Read(file))).ToList();
        Assert.True(lines.Count >= 20, $"only {lines.Count} govshare lines found: has the README's form changed?");

        var unnamed = lines.Select(l => string.Join(' ', l.TakeWhile(w => !w.StartsWith('-') && !w.StartsWith('$') && !char.IsDigit(w[0]))))
            .Where(command => !Covered.ContainsKey(command) && !Covered.ContainsKey(command.Split(' ')[0]) && !KnownGaps.ContainsKey(command)
                && !KnownGaps.ContainsKey(string.Join(' ', command.Split(' ').Take(2))))
            .Distinct()
            .ToList();

        Assert.True(unnamed.Count == 0, "README commands without a test that runs them: " + string.Join(", ", unnamed));
        foreach (var (command, tests) in Covered)
        {
            Assert.Contains(lines, l => string.Join(' ', l).StartsWith(command, StringComparison.Ordinal));
            foreach (var (type, test) in tests)
            {
                Assert.NotNull(type.GetMethod(test, BindingFlags.Public | BindingFlags.Instance)?.GetCustomAttribute<FactAttribute>());
            }
        }
    }
}
