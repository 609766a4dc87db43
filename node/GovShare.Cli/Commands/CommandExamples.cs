using System.CommandLine;

namespace GovShare.Cli.Commands;

/// <summary>
/// One example per command, shown at the end of its <c>--help</c>: people copy an example before
/// they read an option list. Kept in one table so a test can check that no command lacks one.
/// </summary>
internal static class CommandExamples
{
    private static readonly Dictionary<string, string> Examples = new(StringComparer.Ordinal)
    {
        ["govshare"] = "govshare push --csv 企业登记.csv --mapping mapping.json --resource 102001/000001",
        ["govshare node"] = "govshare node run --Node:DivisionCode=530100",
        ["govshare node run"] = "govshare node run --Node:DivisionCode=530100 --Node:DataPath=data",
        ["govshare node link"] = "govshare node link parent --data data --division 530000 --url https://yn.govshare.example:8443",
        ["govshare node links"] = "govshare node links --data data",
        ["govshare node rebuild-state"] = "govshare node rebuild-state --data data --Node:DivisionCode=530100   (with the node stopped; the old database is kept in state-set-aside/)",
        ["govshare node rekey"] = "govshare node rekey 530000 --data data --key-sha256 9f2c…   (after the parent was issued a new certificate)",
        ["govshare node trust"] = "govshare node trust --data data",
        ["govshare node refresh-crl"] = "govshare node refresh-crl --data data   (after copying new CRLs into Node:CrlPath)",
        ["govshare node backup"] = "govshare node backup --data data --to /backups/530100-2026-12-04.tar.gsbk --key-file backup.key   (while the node serves; without --key-file, --to x.tar or a new folder; add --since <previous backup> for an incremental one)",
        ["govshare node restore"] = "govshare node restore --from /backups/530100-2026-12-05.tar --previous /backups/530100-2026-12-04.tar --data data-restored --node-certificate node.crt   (--previous: the earlier backups an incremental one needs; then start the node on data-restored)",
        ["govshare node unlink"] = "govshare node unlink 530000 --data data",
        ["govshare demo"] = "govshare demo --folder .govshare-demo --port 8443",
        ["govshare certs"] = "govshare certs root --pki certs/dev",
        ["govshare certs root"] = "govshare certs root --pki certs/dev --division 530000",
        ["govshare certs intermediate"] = "govshare certs intermediate --pki certs/dev --division 530100",
        ["govshare certs dept"] = "govshare certs dept --pki certs/dev --division 530100 --credit-code 11530100MB00000118 --name \"Kunming Public Security Bureau\" --days 365",
        ["govshare certs node"] = "govshare certs node --pki certs/dev --division 530100 --dns km.govshare.example --days 365",
        ["govshare certs operator"] = "govshare certs operator --pki certs/dev --division 530100 --id zhang.wei --name \"Zhang Wei\" --days 365",
        ["govshare certs renew"] = "govshare certs renew --pki certs/dev --certificate certs/dev/issued/dept-530100-11530100MB00000118.crt --days 365",
        ["govshare certs revoke"] = "govshare certs revoke --pki certs/dev --serial 5F3A9C…",
        ["govshare certs crl"] = "govshare certs crl --pki certs/dev --ca 530100 --days 7",
        ["govshare dept"] = "govshare dept list --data data",
        ["govshare dept register"] = "govshare dept register --data data --division 530100 --credit-code 11530100MB00000118 --name \"Kunming Public Security Bureau\"",
        ["govshare dept list"] = "govshare dept list --data data",
        ["govshare dept remove"] = "govshare dept remove 11530100MB00000118 --data data",
        ["govshare log"] = "govshare log verify --data data --log Exchange --certificate node.crt",
        ["govshare log verify"] = "govshare log verify --data data --log Exchange --certificate node.crt",
        ["govshare push"] = "govshare push --csv 企业登记.csv --mapping mapping.json --resource 102001/000001 --dry-run",
        ["govshare pull"] = "govshare pull --resource 102001/000001 --postgres \"Host=db;Database=dept\" --table enterprises --upsert-key credit_code\n"
            + "  govshare pull --resource 101001/000001 --purpose casework --onward-to govshare:dept/530102/11530102MB0000033X --csv 核查.csv   (to pass on: needs the provider's consent, Art. 33)",
        ["govshare sync"] = "govshare sync --sqlite dept.db --table enterprises --mapping mapping.json --resource 102001/000001 --key credit_code --every 1h",
        ["govshare compare"] = "govshare compare --csv 低保对象.csv --resource 101001/000001 --key 公民身份号码 --items 姓名,出生日期 --keys-file differing.csv",
        ["govshare catalog"] = "govshare catalog search 企业",
        ["govshare catalog search"] = "govshare catalog search 企业 --json",
        ["govshare catalog get"] = "govshare catalog get 102001/000001",
        ["govshare catalog mine"] = "govshare catalog mine",
        ["govshare catalog create"] = "govshare catalog create --file entry.json   (the provider is you: left out, it is filled in)",
        ["govshare catalog update"] = "govshare catalog update 102001/000001 --file entry.json --etag \"3\"",
        ["govshare catalog retire"] = "govshare catalog retire 102001/000001 --etag \"4\"",
        ["govshare catalog import"] = "govshare catalog import --file catalog.json",
        ["govshare catalog export"] = "govshare catalog export --output catalog.json",
        ["govshare catalog items-export"] = "govshare catalog items-export 102001/000001 --output items.csv",
        ["govshare catalog items-import"] = "govshare catalog items-import 102001/000001 --file items.csv --etag \"3\"   (UTF-8 or GB18030)",
        ["govshare catalog tree"] = "govshare catalog tree 企业",
        ["govshare request"] = "govshare request list --role provider --status pending",
        ["govshare request apply"] = "govshare request apply 301100/000001 --item 姓名 --item 出生日期 --purpose-code P-2024-001 --purpose \"Social assistance review\" --legal-basis \"Yunnan rules Art. 25\" --from 2026-01-01 --to 2026-12-31 --contact-name 王五 --contact-phone 0871-1234567",
        ["govshare request list"] = "govshare request list --role provider --status pending",
        ["govshare request show"] = "govshare request show req-0001",
        ["govshare request approve"] = "govshare request approve req-0001 --item 姓名 --item 出生日期:date,year --from 2026-01-01 --to 2026-12-31",
        ["govshare request deny"] = "govshare request deny req-0001 --reason-code no-legal-basis --reason \"The stated basis does not cover identity numbers.\"",
        ["govshare request withdraw"] = "govshare request withdraw req-0001",
        ["govshare grant"] = "govshare grant list",
        ["govshare grant list"] = "govshare grant list --role provider",
        ["govshare grant show"] = "govshare grant show grant-0001",
        ["govshare grant revoke"] = "govshare grant revoke grant-0001 --reason \"Purpose ended.\"",
        ["govshare grant create"] = "govshare grant create --data data --user-division 530100 --user-credit-code 11530100MB0000022C --resource 101001/000001 --item 姓名 --purpose-code P-2024-001 --from 2026-01-01 --to 2026-12-31 --decision DOC-2026-17",
        ["govshare dispute"] = "govshare dispute list --role provider",
        ["govshare dispute raise"] = "govshare dispute raise 101001/000001 --data-version 3 --kind doubtful --description \"Birth date after registration date\" --row-key 530102199001011234",
        ["govshare dispute case"] = "govshare dispute case 101001/000001 --comparison 01JF3Z8K2M4N6P8Q0R2S4T6V8W --data-version 3 --item 姓名 --row-key 530102199001011234 --description \"Our register differs on 90 names\"",
        ["govshare dispute list"] = "govshare dispute list --role provider",
        ["govshare dispute answer"] = "govshare dispute answer dsp-0001 --corrected-by 4",
        ["govshare dispute open"] = "govshare dispute open --data data --overdue",
        ["govshare consent"] = "govshare consent list --role provider",
        ["govshare consent apply"] = "govshare consent apply 101001/000001 --purpose social-assistance --recipient govshare:dept/530100/11530100MB0000033D --reason \"The street office verifies eligibility on our behalf.\"",
        ["govshare consent list"] = "govshare consent list --role provider",
        ["govshare consent grant"] = "govshare consent grant cns-0001",
        ["govshare consent refuse"] = "govshare consent refuse cns-0001 --reason \"The recipient has its own grant to apply for.\"",
        ["govshare consent withdraw"] = "govshare consent withdraw cns-0001 --reason \"The joint programme ended.\"",
        ["govshare consent all"] = "govshare consent all --data data",
        ["govshare complaint"] = "govshare complaint list --role provider",
        ["govshare complaint file"] = "govshare complaint file --resource 101001/000001 --subject \"Grant refused without a reason\" --description \"Request req-0001 was denied with no reason given.\"",
        ["govshare complaint list"] = "govshare complaint list --role provider",
        ["govshare complaint answer"] = "govshare complaint answer cmp-0001 --upheld --reply \"The reason has been added to the decision.\"",
        ["govshare complaint public"] = "govshare complaint public --data data --respondent 11530100MB0000011B --subject \"Wrong address on a licence\" --description \"My address is shown wrongly.\" --name 王五 --contact 0871-63610000",
        ["govshare complaint open"] = "govshare complaint open --data data --overdue",
        ["govshare inbox"] = "govshare inbox --json",
        ["govshare evaluation"] = "govshare evaluation scan --data data",
        ["govshare evaluation scorecards"] = "govshare evaluation scorecards --data data --from 2026-01-01 --to 2026-06-30",
        ["govshare evaluation scan"] = "govshare evaluation scan --data data",
        ["govshare evaluation violations"] = "govshare evaluation violations --data data --status notified --year 2026",
        ["govshare evaluation violation"] = "govshare evaluation violation vio-0001 --data data",
        ["govshare evaluation status"] = "govshare evaluation status vio-0001 rectified --data data --note \"Catalog updated 2026-03-02\"",
        ["govshare evaluation report"] = "govshare evaluation report 2026 --data data --html report-2026.html",
        ["govshare evaluation scorecard"] = "govshare evaluation scorecard --from 2026-01-01",
        ["govshare office"] = "govshare office deadlines --data data",
        ["govshare office deadlines"] = "govshare office deadlines --data data",
        ["govshare office review"] = "govshare office review approve 102001/000001 --data data",
        ["govshare office review approve"] = "govshare office review approve 102001/000001 --data data",
        ["govshare office review reject"] = "govshare office review reject 102001/000001 --reason \"No legal basis for restricting it\" --data data",
        ["govshare office duty-change"] = "govshare office duty-change list --data data",
        ["govshare office duty-change record"] = "govshare office duty-change record --description \"Household registration moves to public security\" --legal-basis \"云南省人民政府令第200号\" --department 11530100MB0000001X --department 11530100MB0000002Y --data data",
        ["govshare office duty-change list"] = "govshare office duty-change list --data data",
        ["govshare office filing"] = "govshare office filing list --child 530100 --data data",
        ["govshare office filing list"] = "govshare office filing list --child 530100 --data data",
        ["govshare office filing approve"] = "govshare office filing approve fil-530100-0003 --data data",
        ["govshare office filing send-back"] = "govshare office filing send-back fil-530100-0003 --reason \"101002/000001: update cycle contradicts the abstract\" --data data",
        ["govshare office designate"] = "govshare office designate --item 公民身份号码 --type utf8 --division 530100 --credit-code 11530100MB0000001X --reason \"户籍登记职责\" --data data",
        ["govshare office duplicates"] = "govshare office duplicates --data data",
        ["govshare office escalations"] = "govshare office escalations --child 530100 --data data",
        ["govshare office reports"] = "govshare office reports show 2026 --data data",
        ["govshare office reports show"] = "govshare office reports show 2026 --data data",
        ["govshare office reports received"] = "govshare office reports received 2026 --child 530100 --data data",
        ["govshare office reports status"] = "govshare office reports status 2026 --data data",
        ["govshare office reports submit"] = "govshare office reports submit 2026 --data data",
        ["govshare office reports publish"] = "govshare office reports publish 2026 --advice-file advice-2026.txt --data data",
        ["govshare office reports published"] = "govshare office reports published 2026 --data data",
        ["govshare report"] = "govshare report published 2026",
        ["govshare report scorecard"] = "govshare report scorecard --from 2026-01-01 --to 2026-12-31",
        ["govshare report notices"] = "govshare report notices --year 2026",
        ["govshare report published"] = "govshare report published 2026",
        ["govshare office pass-up"] = "govshare office pass-up 530100/vio-0a1b2c3d4e5f60718293 --reason \"The bureau answers to a provincial department; the province's office cannot direct it\" --data data",
        ["govshare office filing at-parent"] = "govshare office filing at-parent --data data   (on the child: sent-back filings need action)",
    };

    /// <summary>The commands that have no example (a test keeps this empty).</summary>
    public static IReadOnlyList<string> Missing(Command root) =>
        [.. All(root).Select(GovShareCommand.CommandLine).Where(name => !Examples.ContainsKey(name))];

    public static void AddTo(Command root)
    {
        foreach (var command in All(root))
        {
            if (Examples.TryGetValue(GovShareCommand.CommandLine(command), out var example))
            {
                command.Description = $"{command.Description}{Environment.NewLine}{Environment.NewLine}Example:{Environment.NewLine}  {example}";
            }
        }
    }

    private static IEnumerable<Command> All(Command command) => command.Subcommands.SelectMany(All).Prepend(command);
}
