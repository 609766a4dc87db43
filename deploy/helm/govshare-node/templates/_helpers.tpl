{{/*
Names. A release is one node; the division code is part of every name so that a
province and its prefectures can share a namespace without clashing.
*/}}
{{- define "govshare-node.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "govshare-node.fullname" -}}
{{- printf "%s-%s" .Release.Name (required "node.divisionCode is required (GB/T 2260, e.g. 530100)" .Values.node.divisionCode) | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "govshare-node.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "govshare-node.selectorLabels" -}}
app.kubernetes.io/name: {{ include "govshare-node.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
govshare/division: {{ .Values.node.divisionCode | quote }}
{{- end -}}

{{- define "govshare-node.labels" -}}
helm.sh/chart: {{ include "govshare-node.chart" . }}
{{ include "govshare-node.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: node
{{- end -}}

{{- define "govshare-node.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "govshare-node.tlsSecretName" -}}
{{- if .Values.tls.existingSecret -}}
{{- .Values.tls.existingSecret -}}
{{- else -}}
{{- printf "%s-tls" (include "govshare-node.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "govshare-node.crlSecretName" -}}
{{- if .Values.crl.existingSecret -}}
{{- .Values.crl.existingSecret -}}
{{- else -}}
{{- printf "%s-crl" (include "govshare-node.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "govshare-node.sharedClaimName" -}}
{{- if .Values.state.sharedVolume.existingClaim -}}
{{- .Values.state.sharedVolume.existingClaim -}}
{{- else -}}
{{- printf "%s-shared" (include "govshare-node.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
The claim scheduled backups are written to (backup.enabled).
*/}}
{{- define "govshare-node.backupClaimName" -}}
{{- if .Values.backup.volume.existingClaim -}}
{{- .Values.backup.volume.existingClaim -}}
{{- else -}}
{{- printf "%s-backups" (include "govshare-node.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
Refusals that the schema cannot express: they name the value to fix.
*/}}
{{- define "govshare-node.validate" -}}
{{- if not .Values.kafka.bootstrapServers -}}
{{- fail "kafka.bootstrapServers is required: the node ships its change, exchange and query logs to Kafka" -}}
{{- end -}}
{{- if and (not .Values.tls.existingSecret) (or (not .Values.tls.certificate) (not .Values.tls.key) (not .Values.tls.trustAnchors) (not .Values.tls.intermediates)) -}}
{{- fail "give tls.existingSecret, or tls.certificate, tls.key, tls.trustAnchors and tls.intermediates (--set-file)" -}}
{{- end -}}
{{- if and (not .Values.crl.existingSecret) (empty .Values.crl.files) -}}
{{- fail "give crl.existingSecret or at least one crl.files entry: the node fails closed without CRLs" -}}
{{- end -}}
{{- if eq .Values.upstream.parentDivisionCode .Values.node.divisionCode -}}
{{- fail "upstream.parentDivisionCode must differ from node.divisionCode" -}}
{{- end -}}
{{- if lt (int .Values.terminationGracePeriodSeconds) (add (int .Values.node.drainTimeoutSeconds) 15) -}}
{{- fail "terminationGracePeriodSeconds must be at least node.drainTimeoutSeconds + 15: after the drain the node signs closing checkpoints, flushes Kafka and closes its database; cut short, the pod stop becomes a SIGKILL" -}}
{{- end -}}
{{- if and (eq .Values.state.backend "postgresql") (not .Values.state.connectionStringSecret) -}}
{{- fail "state.connectionStringSecret is required with state.backend=postgresql: a Secret whose key connectionString is the Npgsql connection string" -}}
{{- end -}}
{{- if and (or .Values.metrics.scrapeAnnotations .Values.metrics.podMonitor.enabled) .Values.networkPolicy.enabled (empty .Values.networkPolicy.ingress.managementFrom) -}}
{{- fail "metrics.scrapeAnnotations or metrics.podMonitor.enabled needs networkPolicy.ingress.managementFrom: name Prometheus's namespace or pods there, or the NetworkPolicy refuses its scrapes of the management port" -}}
{{- end -}}
{{- if and .Values.backup.enabled (not .Values.backup.keySecret) -}}
{{- fail "backup.keySecret is required with backup.enabled: a Secret whose key backup.key is the 32-byte key the backups are encrypted with (they hold the node's secrets)" -}}
{{- end -}}
{{- if and .Values.backup.enabled (eq .Values.state.backend "postgresql") -}}
{{- fail "backup.enabled works with state.backend=litedb only: on PostgreSQL back up the database with pg_dump and the shared volume (deploy/README.md)" -}}
{{- end -}}
{{- if eq (int .Values.ports.exchange) (int .Values.ports.management) -}}
{{- fail "ports.exchange and ports.management must differ" -}}
{{- end -}}
{{- if .Values.networkPolicy.enabled -}}
{{- if empty .Values.networkPolicy.egress.kafka.to -}}
{{- fail "networkPolicy.egress.kafka.to is empty: the policy would cut the node off from Kafka" -}}
{{- end -}}
{{- if and (eq .Values.state.backend "postgresql") (empty .Values.networkPolicy.egress.postgresql.to) -}}
{{- fail "networkPolicy.egress.postgresql.to is empty but state.backend is postgresql: the policy would cut the replicas off from their state" -}}
{{- end -}}
{{- if and .Values.upstream.parentUrl (empty .Values.networkPolicy.egress.parent.to) -}}
{{- fail "networkPolicy.egress.parent.to is empty but upstream.parentUrl is set: the policy would cut the link to the parent" -}}
{{- end -}}
{{- end -}}
{{- end -}}
