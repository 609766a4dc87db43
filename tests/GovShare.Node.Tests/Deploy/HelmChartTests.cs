using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using YamlDotNet.Core;

namespace GovShare.Node.Tests.Deploy;

/// <summary>
/// Checks deploy/helm/govshare-node without Helm (which cannot be installed here): the values
/// against the schema, every value a template reads against values.yaml, the YAML of every
/// file, and the security properties the chart promises.
/// </summary>
public sealed class HelmChartTests
{
    private static readonly string ChartPath = Path.Combine(RepositoryRoot.Path, "deploy", "helm", "govshare-node");
    private static readonly string TemplatesPath = Path.Combine(ChartPath, "templates");
    private static readonly string[] Probes = ["startupProbe", "livenessProbe", "readinessProbe"];
    private static readonly string[] NamedPorts = ["exchange", "management"];
    private static readonly string[] EgressDestinations = ["kafka", "parent", "postgresql", "children", "dns"];
    private static readonly string[] ValidatedTemplates = ["configmap.yaml", "statefulset.yaml", "deployment.yaml"];

    public static TheoryData<string> CiValuesFiles() =>
        new(Directory.GetFiles(Path.Combine(ChartPath, "ci"), "*.yaml").Select(Path.GetFileName).OfType<string>());

    public static TheoryData<string> YamlTemplates() =>
        new(Directory.GetFiles(TemplatesPath, "*.yaml").Select(Path.GetFileName).OfType<string>());

    [Fact]
    public void ValuesYaml_AgainstSchema_IsValid()
    {
        var errors = SchemaErrors(DefaultValues());

        Assert.True(errors.Count == 0, "values.yaml breaks values.schema.json:\n" + string.Join('\n', errors));
    }

    [Theory]
    [MemberData(nameof(CiValuesFiles))]
    public void CiValues_MergedOverDefaults_AreValid(string file)
    {
        var overrides = YamlJson.Load(File.ReadAllText(Path.Combine(ChartPath, "ci", file)), file);

        var errors = SchemaErrors(YamlJson.Merge(DefaultValues(), overrides));

        Assert.True(errors.Count == 0, $"ci/{file} breaks values.schema.json:\n" + string.Join('\n', errors));
    }

    [Theory]
    [InlineData("node: { divisionCode: '53010' }", "/node/divisionCode")]
    [InlineData("node: { divisionCode: '053000' }", "/node/divisionCode")]
    [InlineData("node: { divisionCode: 530100 }", "/node/divisionCode")]
    [InlineData("node: { crlGrace: 1h }", "/node/crlGrace")]
    [InlineData("upstream: { parentUrl: 'https://province:8443' }", "/upstream/parentDivisionCode")]
    [InlineData("upstream: { parentDivisionCode: '530000' }", "/upstream/parentDivisionCode")]
    [InlineData("upstream: { parentUrl: 'https://nation:8443', parentDivisionCode: '000000', parentTrustAnchor: 'national-root.pem' }", "/upstream/parentTrustAnchor")]
    [InlineData("upstream: { parentUrl: 'http://province:8443', parentDivisionCode: '530000' }", "/upstream/parentUrl")]
    [InlineData("kafka: { retentionYears: 9 }", "/kafka/retentionYears")]
    [InlineData("kafka: { bootstrapServers: kafka }", "/kafka/bootstrapServers")]
    [InlineData("persistence: { accessMode: ReadWriteMany }", "/persistence/accessMode")]
    [InlineData("podSecurityContext: { runAsUser: 0 }", "/podSecurityContext/runAsUser")]
    [InlineData("tls: { key: '-----BEGIN CERTIFICATE-----x' }", "/tls/key")]
    [InlineData("crl: { files: { root.crl: 'not a CRL' } }", "/crl/files/root.crl")]
    [InlineData("networkPolicy: { egress: { dns: { to: [] } } }", "/networkPolicy/egress/dns/to")]
    [InlineData("networkPolicy: { egress: { kafka: { to: [ { ipBlock: { cidr: everywhere } } ], ports: [9093] } } }", "/networkPolicy/egress/kafka/to/0/ipBlock/cidr")]
    [InlineData("replicas: 2", "/replicas")]
    [InlineData("state: { replicas: 1 }", "/state/replicas")]
    [InlineData("state: { backend: mysql }", "/state/backend")]
    [InlineData("state: { catchUpIntervalSeconds: 0 }", "/state/catchUpIntervalSeconds")]
    [InlineData("state: { connectionStringSecret: 'Host=pg;Password=x' }", "/state/connectionStringSecret")]
    [InlineData("image: { digest: 'sha256:abc' }", "/image/digest")]
    [InlineData("node: { expiryWarning: 30d }", "/node/expiryWarning")]
    [InlineData("node: { crlExpiryWarning: '2 days' }", "/node/crlExpiryWarning")]
    [InlineData("backup: { schedule: daily }", "/backup/schedule")]
    [InlineData("metrics: { podMonitor: { interval: soon } }", "/metrics/podMonitor/interval")]
    [InlineData("metrics: { serviceMonitor: { enabled: true } }", "/metrics/serviceMonitor")]
    [InlineData("backup: { keepDays: 7 }", "/backup/keepDays")]
    [InlineData("backup: { fullOnWeekday: 7 }", "/backup/fullOnWeekday")]
    [InlineData("backup: { keySecret: 'My Key' }", "/backup/keySecret")]
    public void Schema_InvalidValue_IsRejectedAtItsLocation(string overrideYaml, string location)
    {
        var values = YamlJson.Merge(DefaultValues(), YamlJson.Load(overrideYaml, "override"));

        var errors = SchemaErrors(values);

        Assert.Contains(errors, e => e.StartsWith(location + ":", StringComparison.Ordinal));
    }

    [Fact]
    public void ChartYaml_Parsed_IsAVersion2ApplicationChart()
    {
        var chart = YamlJson.Load(File.ReadAllText(Path.Combine(ChartPath, "Chart.yaml")), "Chart.yaml")!;

        Assert.Equal("v2", (string?)chart["apiVersion"]);
        Assert.Equal("govshare-node", (string?)chart["name"]);
        Assert.Equal("application", (string?)chart["type"]);
        Assert.Matches(@"^\d+\.\d+\.\d+$", (string?)chart["version"]);
        Assert.IsType<string>((string?)chart["appVersion"]);
    }

    [Fact]
    public void Templates_ValuesReferences_AreDefinedInValuesYaml()
    {
        var values = DefaultValues();
        var references = TemplateReferences();

        var undefined = references
            .Where(r => !IsDefined(values, r.Path))
            .Select(r => $"{r.File}: .Values.{r.Path}")
            .Distinct()
            .ToList();

        Assert.True(references.Count > 50, $"only {references.Count} .Values references found: the scan is broken");
        Assert.True(undefined.Count == 0, "templates read values that values.yaml does not define:\n" + string.Join('\n', undefined));
    }

    [Fact]
    public void ValuesYaml_EveryValue_IsReadByATemplate()
    {
        var used = TemplateReferences().Select(r => r.Path).ToHashSet();

        var unused = Leaves(DefaultValues(), "")
            .Where(leaf => !used.Any(path => leaf == path || leaf.StartsWith(path + ".", StringComparison.Ordinal)))
            .ToList();

        Assert.True(unused.Count == 0, "values.yaml defines values no template reads:\n" + string.Join('\n', unused));
    }

    [Theory]
    [MemberData(nameof(YamlTemplates))]
    public void Template_WithActionsReplaced_IsWellFormedKubernetesYaml(string file)
    {
        var documents = TemplateDocuments(file);

        Assert.NotEmpty(documents);
        Assert.All(documents, d =>
        {
            Assert.False(string.IsNullOrEmpty((string?)d["apiVersion"]), $"{file}: a document without apiVersion");
            Assert.False(string.IsNullOrEmpty((string?)d["kind"]), $"{file}: a document without kind");
            Assert.NotNull(d["metadata"]?["name"]);
        });
    }

    [Fact]
    public void ValuesYaml_Parsed_IsWellFormedAndUnambiguous()
    {
        var values = DefaultValues();

        Assert.IsType<JsonObject>(values);
        // The division code is a string of digits; unquoted it would be a number to Helm.
        Assert.Equal(JsonValueKind.String, values["node"]!["divisionCode"]!.GetValueKind());
    }

    [Fact]
    public void StatefulSet_SecurityContext_IsNonRootReadOnlyAndWithoutCapabilities()
    {
        var pod = Single("statefulset.yaml", "StatefulSet")["spec"]!["template"]!["spec"]!;
        var container = Assert.Single(pod["containers"]!.AsArray())!;

        Assert.True((bool?)pod["securityContext"]!["runAsNonRoot"]);
        Assert.Equal("RuntimeDefault", (string?)pod["securityContext"]!["seccompProfile"]!["type"]);
        Assert.False((bool?)pod["automountServiceAccountToken"]);
        var context = container["securityContext"]!;
        Assert.True((bool?)context["runAsNonRoot"]);
        Assert.True((bool?)context["readOnlyRootFilesystem"]);
        Assert.False((bool?)context["allowPrivilegeEscalation"]);
        Assert.False((bool?)context["privileged"]);
        Assert.Equal(["ALL"], context["capabilities"]!["drop"]!.AsArray().Select(c => (string?)c));
        Assert.Equal("RuntimeDefault", (string?)context["seccompProfile"]!["type"]);
        // The schema keeps the user id off root too.
        Assert.Equal(1, (int?)Schema()["properties"]!["podSecurityContext"]!["properties"]!["runAsUser"]!["minimum"]);
    }

    [Fact]
    public void StatefulSet_Writes_GoOnlyToTheDataVolumeAndTmp()
    {
        var spec = Single("statefulset.yaml", "StatefulSet")["spec"]!;
        var container = spec["template"]!["spec"]!["containers"]![0]!;

        Assert.Equal(1, (int?)spec["replicas"]);
        Assert.Equal("data", (string?)Assert.Single(spec["volumeClaimTemplates"]!.AsArray())!["metadata"]!["name"]);
        var writable = container["volumeMounts"]!.AsArray()
            .Where(m => (bool?)m!["readOnly"] != true)
            .Select(m => (string?)m!["mountPath"])
            .Order(StringComparer.Ordinal);
        // The backups volume is mounted only with backup.enabled (off by default).
        Assert.Equal(["/tmp", "/var/lib/govshare", "/var/lib/govshare-backups"], writable);
        var template = File.ReadAllText(Path.Combine(TemplatesPath, "statefulset.yaml"));
        var mount = template.IndexOf("mountPath: /var/lib/govshare-backups", StringComparison.Ordinal);
        Assert.True(template.LastIndexOf("{{- if .Values.backup.enabled }}", mount, StringComparison.Ordinal) > template.LastIndexOf("{{- end }}", mount, StringComparison.Ordinal), "the backups volume is mounted without backup.enabled");
        var tmp = spec["template"]!["spec"]!["volumes"]!.AsArray().Single(v => (string?)v!["name"] == "tmp")!;
        Assert.NotNull(tmp["emptyDir"]);
    }

    [Fact]
    public void Deployment_WithPostgreSql_RunsReplicasOnOneSharedVolumeEachWithItsOwnFolder()
    {
        var spec = Single("deployment.yaml", "Deployment")["spec"]!;
        var pod = spec["template"]!["spec"]!;
        var container = Assert.Single(pod["containers"]!.AsArray())!;

        Assert.Equal(TemplateSkeleton.Placeholder + ".Values.state.replicas", (string?)spec["replicas"]);
        // A new pod is ready before an old one drains: a rolling update never lowers capacity.
        Assert.Equal(0, (int?)spec["strategy"]!["rollingUpdate"]!["maxUnavailable"]);
        var data = pod["volumes"]!.AsArray().Single(v => (string?)v!["name"] == "data")!;
        Assert.NotNull(data["persistentVolumeClaim"]);
        var env = container["env"]!.AsArray().ToDictionary(e => (string)e!["name"]!, e => e!);
        Assert.Equal("/var/lib/govshare/replicas/$(POD_NAME)", (string?)env["Node__DataPath"]["value"]);
        Assert.Equal("$(POD_NAME)", (string?)env["State__ReplicaId"]["value"]);
        Assert.Equal("connectionString", (string?)env["State__ConnectionString"]["valueFrom"]!["secretKeyRef"]!["key"]);
        Assert.Equal("metadata.name", (string?)env["POD_NAME"]["valueFrom"]!["fieldRef"]!["fieldPath"]);
        Assert.Equal("/health/ready", (string?)container["readinessProbe"]!["httpGet"]!["path"]);
        var context = container["securityContext"]!;
        Assert.True((bool?)context["readOnlyRootFilesystem"]);
        Assert.Equal(["ALL"], context["capabilities"]!["drop"]!.AsArray().Select(c => (string?)c));
        Assert.False((bool?)pod["automountServiceAccountToken"]);
        var shared = Single("pvc-shared.yaml", "PersistentVolumeClaim");
        Assert.Equal(["ReadWriteMany"], shared["spec"]!["accessModes"]!.AsArray().Select(m => (string?)m));
        Assert.Equal("keep", (string?)shared["metadata"]!["annotations"]!["helm.sh/resource-policy"]);
        // Each workload renders only for its backend, and the configmap points the replicas at the shared dataset folder.
        Assert.StartsWith("{{- include \"govshare-node.validate\" . }}\n{{- if eq .Values.state.backend \"postgresql\" }}", File.ReadAllText(Path.Combine(TemplatesPath, "deployment.yaml")), StringComparison.Ordinal);
        Assert.Contains("{{- if ne .Values.state.backend \"postgresql\" }}", File.ReadAllText(Path.Combine(TemplatesPath, "statefulset.yaml")), StringComparison.Ordinal);
        Assert.Contains("\"DatasetPath\" \"/var/lib/govshare/datasets\"", File.ReadAllText(Path.Combine(TemplatesPath, "configmap.yaml")), StringComparison.Ordinal);
        Assert.Contains("state.connectionStringSecret is required", File.ReadAllText(Path.Combine(TemplatesPath, "_helpers.tpl")), StringComparison.Ordinal);
    }

    [Fact]
    public void Metrics_ScrapeIsOffByDefault_TargetsTheManagementPortsMetrics_AndIsRefusedWithoutANetworkPolicyRule()
    {
        var values = DefaultValues()!;
        Assert.False((bool?)values["metrics"]?["scrapeAnnotations"] ?? true);
        Assert.False((bool?)values["metrics"]?["podMonitor"]?["enabled"] ?? true);

        // A PodMonitor, because the Service never carries the management port; rendered only when asked for.
        var template = File.ReadAllText(Path.Combine(TemplatesPath, "podmonitor.yaml"));
        Assert.StartsWith("{{- if .Values.metrics.podMonitor.enabled }}", template, StringComparison.Ordinal);
        var monitor = TemplateDocuments("podmonitor.yaml").Single(d => (string?)d["kind"] == "PodMonitor");
        Assert.Equal("monitoring.coreos.com/v1", (string?)monitor["apiVersion"]);
        var endpoint = monitor["spec"]!["podMetricsEndpoints"]!.AsArray().Single()!;
        Assert.Equal("management", (string?)endpoint["port"]);
        Assert.Equal("/metrics", (string?)endpoint["path"]);
        Assert.Contains("govshare-node.selectorLabels", template, StringComparison.Ordinal);

        foreach (var workload in new[] { "statefulset.yaml", "deployment.yaml" })
        {
            var text = File.ReadAllText(Path.Combine(TemplatesPath, workload));
            var scrape = text.IndexOf("prometheus.io/scrape: \"true\"", StringComparison.Ordinal);
            Assert.True(scrape > 0, $"{workload} has no scrape annotations");
            Assert.True(text.LastIndexOf("{{- if .Values.metrics.scrapeAnnotations }}", scrape, StringComparison.Ordinal) > text.LastIndexOf("{{- end }}", scrape, StringComparison.Ordinal), $"{workload} annotates without metrics.scrapeAnnotations");
            Assert.Contains("prometheus.io/port: {{ .Values.ports.management | quote }}", text, StringComparison.Ordinal);
        }

        // /metrics needs no token; the NetworkPolicy is what keeps it in the cluster, so a scrape it would block is refused at render.
        Assert.Contains("metrics.scrapeAnnotations or metrics.podMonitor.enabled needs networkPolicy.ingress.managementFrom", File.ReadAllText(Path.Combine(TemplatesPath, "_helpers.tpl")), StringComparison.Ordinal);
        Assert.Contains("(empty .Values.networkPolicy.ingress.managementFrom)", File.ReadAllText(Path.Combine(TemplatesPath, "_helpers.tpl")), StringComparison.Ordinal);
    }

    [Fact]
    public void BackupCronJob_IsOffByDefault_ExecsAnEncryptedBackupInTheNodePod_AndMayExecNowhereElse()
    {
        var values = DefaultValues()!;
        Assert.False((bool?)values["backup"]?["enabled"] ?? true);
        var template = File.ReadAllText(Path.Combine(TemplatesPath, "cronjob-backup.yaml"));
        Assert.StartsWith("{{- if .Values.backup.enabled }}", template, StringComparison.Ordinal);
        Assert.StartsWith("{{- if and .Values.backup.enabled (not .Values.backup.volume.existingClaim) }}", File.ReadAllText(Path.Combine(TemplatesPath, "pvc-backup.yaml")), StringComparison.Ordinal);

        var documents = TemplateDocuments("cronjob-backup.yaml");
        var cronJob = documents.Single(d => (string?)d["kind"] == "CronJob")["spec"]!;
        Assert.Equal("Forbid", (string?)cronJob["concurrencyPolicy"]);
        var script = (string)cronJob["jobTemplate"]!["spec"]!["template"]!["spec"]!["containers"]![0]!["args"]![0]!;
        Assert.Contains("govshare node backup", script, StringComparison.Ordinal);
        Assert.Contains("--key-file /etc/govshare/backup/backup.key", script, StringComparison.Ordinal);
        Assert.Contains("--since \"$newest\"", script, StringComparison.Ordinal);
        Assert.Contains("-mtime +TPL_", script, StringComparison.Ordinal);

        // The job's account may exec into the release's one pod, and nothing else.
        var rules = documents.Single(d => (string?)d["kind"] == "Role")["rules"]!.AsArray();
        Assert.All(rules, rule =>
        {
            Assert.Single(rule!["resourceNames"]!.AsArray());
            Assert.DoesNotContain("*", rule["verbs"]!.AsArray().Select(v => (string?)v));
        });
        Assert.Equal(["create"], rules.Single(r => (string?)r!["resources"]![0] == "pods/exec")!["verbs"]!.AsArray().Select(v => (string?)v));

        // Without a key the render fails: a backup holds the node's secrets and is never written unencrypted.
        Assert.Contains("backup.keySecret is required with backup.enabled", File.ReadAllText(Path.Combine(TemplatesPath, "_helpers.tpl")), StringComparison.Ordinal);
    }

    [Fact]
    public void StatefulSet_Probes_AskTheManagementPortForHealth()
    {
        var container = Single("statefulset.yaml", "StatefulSet")["spec"]!["template"]!["spec"]!["containers"]![0]!;

        Assert.Equal("/health/live", (string?)container["livenessProbe"]!["httpGet"]!["path"]);
        Assert.Equal("/health/ready", (string?)container["readinessProbe"]!["httpGet"]!["path"]);
        Assert.All(Probes, probe =>
            Assert.Equal("management", (string?)container[probe]!["httpGet"]!["port"]));
        var ports = container["ports"]!.AsArray().ToDictionary(p => (string)p!["name"]!, p => (string?)p!["containerPort"]);
        Assert.Equal(TemplateSkeleton.Placeholder + ".Values.ports.exchange", ports["exchange"]);
        Assert.Equal(TemplateSkeleton.Placeholder + ".Values.ports.management", ports["management"]);
    }

    [Fact]
    public void StatefulSet_CrlSecret_IsMountedWholeAndLeftOutOfTheRestartChecksums()
    {
        var template = Single("statefulset.yaml", "StatefulSet")["spec"]!["template"]!;
        var container = template["spec"]!["containers"]![0]!;

        var crl = container["volumeMounts"]!.AsArray().Single(m => (string?)m!["name"] == "crl")!;
        Assert.Null(crl["subPath"]);
        var checksums = template["metadata"]!["annotations"]!.AsObject()
            .Where(a => a.Key.StartsWith("checksum/", StringComparison.Ordinal))
            .Select(a => (string?)a.Value)
            .ToList();
        Assert.NotEmpty(checksums);
        Assert.DoesNotContain(checksums, c => c!.Contains("secret_crl", StringComparison.Ordinal));
    }

    [Fact]
    public void Service_Ports_AreTheExchangePortOnlyAsPlainTcp()
    {
        var services = TemplateDocuments("service.yaml").Where(d => (string?)d["kind"] == "Service").ToList();

        Assert.Equal(2, services.Count);
        Assert.All(services, service =>
        {
            var port = Assert.Single(service["spec"]!["ports"]!.AsArray())!;
            Assert.Equal("exchange", (string?)port["name"]);
            Assert.Equal("exchange", (string?)port["targetPort"]);
            Assert.Equal("TCP", (string?)port["protocol"]);
        });
        var exposed = services.Single(s => s["spec"]!["clusterIP"] is null);
        Assert.Equal(TemplateSkeleton.Placeholder + ".Values.service.port", (string?)exposed["spec"]!["ports"]![0]!["port"]);
    }

    [Fact]
    public void NetworkPolicy_Ingress_AdmitsTheExchangePortAndManagementOnlyFromNamedPeers()
    {
        var policy = Single("networkpolicy.yaml", "NetworkPolicy")["spec"]!;

        Assert.Equal(["Ingress", "Egress"], policy["policyTypes"]!.AsArray().Select(t => (string?)t));
        var rules = policy["ingress"]!.AsArray();
        Assert.NotEmpty(rules);
        Assert.All(rules, rule =>
        {
            var port = Assert.Single(rule!["ports"]!.AsArray())!["port"]!.ToString();
            Assert.Contains(port, NamedPorts);
            if (port == "management")
            {
                // A rule without `from` admits everyone: management must always name its peers.
                Assert.True(rule.AsObject().ContainsKey("from"), "the management rule must carry a from list");
                Assert.Contains(".Values.networkPolicy.ingress.managementFrom", File.ReadAllText(Path.Combine(TemplatesPath, "networkpolicy.yaml")), StringComparison.Ordinal);
            }
        });
        Assert.Contains(rules, rule => rule!["ports"]![0]!["port"]!.ToString() == "exchange");
    }

    [Fact]
    public void NetworkPolicy_Egress_IsLimitedToKafkaParentChildrenAndDns()
    {
        var policy = Single("networkpolicy.yaml", "NetworkPolicy")["spec"]!;
        var rules = policy["egress"]!.AsArray();

        // A rule without `to` would let the node reach anything on its ports.
        Assert.All(rules, rule => Assert.True(rule!.AsObject().ContainsKey("to"), "every egress rule names its destinations"));
        Assert.All(rules, rule => Assert.NotEmpty(rule!["ports"]!.AsArray()));
        Assert.Equal(5, rules.Count);
        var dns = rules[^1]!["ports"]!.AsArray().Select(p => (p!["port"]!.ToString(), (string?)p["protocol"]));
        Assert.Equal([("53", "UDP"), ("53", "TCP")], dns);
        var text = File.ReadAllText(Path.Combine(TemplatesPath, "networkpolicy.yaml"));
        foreach (var destination in EgressDestinations)
        {
            Assert.Contains($".Values.networkPolicy.egress.{destination}.to", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Templates_RenderedResources_RunTheRefusalsTheSchemaCannotExpress()
    {
        // The schema cannot say "kafka.to is required when the policy is on" or "a PEM or an
        // existing Secret": the validate helper fails the render, and both rendered workloads call it.
        var helpers = File.ReadAllText(Path.Combine(TemplatesPath, "_helpers.tpl"));

        Assert.Contains("empty .Values.networkPolicy.egress.kafka.to", helpers, StringComparison.Ordinal);
        Assert.All(ValidatedTemplates, f =>
            Assert.StartsWith("{{- include \"govshare-node.validate\" . }}", File.ReadAllText(Path.Combine(TemplatesPath, f)), StringComparison.Ordinal));
    }

    [Fact]
    public void ConfigMap_NodeSection_SetsEveryRequiredNodeOptionAndNoUnknownOne()
    {
        var keys = DictKeys(File.ReadAllText(Path.Combine(TemplatesPath, "configmap.yaml")), "$node");
        var properties = typeof(GovShare.Node.Kernel.NodeOptions).GetProperties();
        var required = properties
            .Where(p => p.GetCustomAttributes(typeof(System.ComponentModel.DataAnnotations.RequiredAttribute), false).Length > 0)
            .Select(p => p.Name);

        Assert.Empty(keys.Except(properties.Select(p => p.Name)));
        Assert.Empty(required.Except(keys));
        Assert.Contains($"(dict \"{GovShare.Node.Kernel.NodeOptions.Section}\" $node", File.ReadAllText(Path.Combine(TemplatesPath, "configmap.yaml")), StringComparison.Ordinal);
    }

    [Fact]
    public void TemplateSkeleton_ActionSpanningLines_IsRefused()
    {
        var template = "metadata:\n  name: {{ include \"x\"\n  . }}\n";

        var error = Assert.Throws<InvalidDataException>(() => TemplateSkeleton.Strip(template, "t.yaml"));

        Assert.Contains("t.yaml:2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TemplateSkeleton_BrokenIndentation_IsNotWellFormed()
    {
        var skeleton = TemplateSkeleton.Strip("kind: A\nspec:\n  a: {{ .Values.x }}\n b: 1\n", "t.yaml");

        Assert.ThrowsAny<YamlException>(() => YamlJson.LoadAll(skeleton, "t.yaml"));
    }

    [Fact]
    public void YamlJson_Yaml11OnlyScalar_IsRefused()
    {
        var error = Assert.Throws<InvalidDataException>(() => YamlJson.Load("crlGrace: 01:00:00\nenabled: yes\n", "v.yaml"));

        Assert.Contains("01:00:00", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void YamlJson_DuplicateKey_IsRefused()
    {
        Assert.ThrowsAny<Exception>(() => YamlJson.Load("a: 1\na: 2\n", "v.yaml"));
    }

    /// <summary>The keys of the one-line <c>{{- $variable := dict "K1" v1 "K2" v2 … }}</c> in a template.</summary>
    private static List<string> DictKeys(string template, string variable)
    {
        var line = template.Split('\n').Single(l => l.Contains($"{variable} := dict ", StringComparison.Ordinal));
        var arguments = line[(line.IndexOf(" dict ", StringComparison.Ordinal) + 6)..line.LastIndexOf("}}", StringComparison.Ordinal)];
        var tokens = new List<string>();
        var depth = 0;
        var quoted = false;
        var current = new System.Text.StringBuilder();
        foreach (var c in arguments)
        {
            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (!quoted && c == '(')
            {
                depth++;
            }
            else if (!quoted && c == ')')
            {
                depth--;
            }

            if (c == ' ' && !quoted && depth == 0)
            {
                if (current.Length > 0)
                {
                    tokens.Add(current.ToString());
                    current.Clear();
                }

                continue;
            }

            current.Append(c);
        }

        if (current.Length > 0)
        {
            tokens.Add(current.ToString());
        }

        Assert.True(tokens.Count % 2 == 0, $"{variable}: dict with an odd number of arguments");
        return tokens.Where((_, i) => i % 2 == 0).Select(t => t.Trim('"')).ToList();
    }

    private static JsonNode? DefaultValues() =>
        YamlJson.Load(File.ReadAllText(Path.Combine(ChartPath, "values.yaml")), "values.yaml");

    private static JsonNode Schema() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(ChartPath, "values.schema.json")))!;

    /// <summary>"instance-location: message" for each failing schema node.</summary>
    private static List<string> SchemaErrors(JsonNode? values)
    {
        var schema = JsonSchema.FromText(File.ReadAllText(Path.Combine(ChartPath, "values.schema.json")));
        using var document = JsonDocument.Parse(values?.ToJsonString() ?? "null");
        var results = schema.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (results.IsValid)
        {
            return [];
        }

        var errors = (results.Details ?? [])
            .Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}"))
            .ToList();
        return errors.Count > 0 ? errors : ["(invalid, no detail)"];
    }

    private static List<(string File, string Path)> TemplateReferences() =>
        Directory.GetFiles(TemplatesPath)
            .SelectMany(f => TemplateSkeleton.ValuesReferences(File.ReadAllText(f)).Select(p => (Path.GetFileName(f), p)))
            .ToList();

    private static bool IsDefined(JsonNode? values, string path)
    {
        var node = values;
        foreach (var segment in path.Split('.'))
        {
            if (node is not JsonObject obj || !obj.ContainsKey(segment))
            {
                return false;
            }

            node = obj[segment];
        }

        return true;
    }

    private static IEnumerable<string> Leaves(JsonNode? node, string path)
    {
        if (node is JsonObject obj && obj.Count > 0)
        {
            return obj.SelectMany(p => Leaves(p.Value, path.Length == 0 ? p.Key : $"{path}.{p.Key}"));
        }

        return [path];
    }

    private static List<JsonNode> TemplateDocuments(string file)
    {
        var skeleton = TemplateSkeleton.Strip(File.ReadAllText(Path.Combine(TemplatesPath, file)), file);
        return YamlJson.LoadAll(skeleton, file).OfType<JsonNode>().ToList();
    }

    private static JsonNode Single(string file, string kind) =>
        Assert.Single(TemplateDocuments(file), d => (string?)d["kind"] == kind);
}
