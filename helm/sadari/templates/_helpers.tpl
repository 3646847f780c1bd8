{{- /*
    Names, labels and derived settings shared by the sadari templates.

    Resource names are fixed ("sadari", "sadari-data", ...), like z2jh's with its default
    `fullnameOverride: ""`: one release per namespace. The z2jh names this chart needs (the hub's
    Service and Secret) are derived from `jupyterhub.fullnameOverride` the way z2jh derives them
    (its _helpers-names.tpl), so they also work when the dependency is not downloaded.
*/}}

{{- define "sadari.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- /* Labels of every sadari object. */}}
{{- define "sadari.labels" -}}
helm.sh/chart: {{ include "sadari.chart" . }}
app.kubernetes.io/name: sadari
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- /* Selector labels of one component: include "sadari.selectorLabels" (list $ "service") */}}
{{- define "sadari.selectorLabels" -}}
app.kubernetes.io/name: sadari
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- /* Labels of one component's objects: include "sadari.componentLabels" (list $ "service") */}}
{{- define "sadari.componentLabels" -}}
{{ include "sadari.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "sadari.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "sadari.graderImage" -}}
{{ .Values.grading.image.repository }}:{{ .Values.grading.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "sadari.gradingNamespace" -}}
{{ .Values.grading.namespace | default .Release.Namespace }}
{{- end }}

{{- define "sadari.claimName" -}}
{{ .Values.storage.existingClaim | default "sadari-data" }}
{{- end }}

{{- define "sadari.dataDir" -}}
/srv/sadari/data
{{- end }}

{{- /* z2jh's resource name prefix ("" by default, else "<fullname>-"). */}}
{{- define "sadari.z2jh.prefix" -}}
{{- $jh := .Values.jupyterhub | default dict }}
{{- $override := $jh.fullnameOverride }}
{{- if eq (typeOf $override) "string" }}
{{- if $override }}{{ $override }}-{{ end }}
{{- else }}
{{- $name := $jh.nameOverride | default "jupyterhub" }}
{{- if contains $name .Release.Name }}{{ .Release.Name }}-{{ else }}{{ .Release.Name }}-{{ $name }}-{{ end }}
{{- end }}
{{- end }}

{{- /* The hub's Deployment, Service and Secret. */}}
{{- define "sadari.z2jh.hub" -}}
{{ include "sadari.z2jh.prefix" . }}hub
{{- end }}

{{- define "sadari.hubApiUrl" -}}
{{- $base := dig "hub" "baseUrl" "/" (.Values.jupyterhub | default dict) | trimSuffix "/" }}
{{- printf "http://%s:8081%s/hub/api" (include "sadari.z2jh.hub" .) $base }}
{{- end }}

{{- define "sadari.servicePrefix" -}}
{{- $base := dig "hub" "baseUrl" "/" (.Values.jupyterhub | default dict) | trimSuffix "/" }}
{{- printf "%s/services/sadari/" $base }}
{{- end }}

{{- /* Where the hub and trainee servers reach the service. */}}
{{- define "sadari.serviceUrl" -}}
http://sadari:{{ .Values.service.port }}
{{- end }}

{{- /* sadari's database: SQLite on the data volume, or the external PostgreSQL (no password in
       the URL: libpq reads PGPASSWORD). */}}
{{- define "sadari.dbUrl" -}}
{{- $pg := .Values.postgresql }}
{{- if $pg.enabled -}}
postgresql+psycopg://{{ $pg.user }}@{{ $pg.host }}:{{ $pg.port }}/{{ $pg.database }}
{{- else -}}
sqlite:///{{ include "sadari.dataDir" . }}/sadari.sqlite
{{- end }}
{{- end }}

{{- /* The hub's database URL the chart expects in jupyterhub.hub.db.url. */}}
{{- define "sadari.hubDbUrl" -}}
{{- $pg := .Values.postgresql -}}
postgresql+psycopg://{{ $pg.user }}@{{ $pg.host }}:{{ $pg.port }}/{{ $pg.hubDatabase }}
{{- end }}

{{- /* PGPASSWORD from the existing Secret (a container env entry). */}}
{{- define "sadari.pgPasswordEnv" -}}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.postgresql.existingSecret }}
      key: {{ .Values.postgresql.passwordKey }}
{{- end }}

{{- /* Pod-level settings every sadari pod shares. */}}
{{- define "sadari.podSpecCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{- /*
    Values the JupyterHub chart gets must agree with sadari's: the chart cannot set them itself
    (a parent chart cannot compute its subchart's values), so it refuses to render when they
    disagree, saying what to set.
*/}}
{{- define "sadari.validate" -}}
{{- $jh := .Values.jupyterhub | default dict }}
{{- $url := dig "hub" "services" "sadari" "url" "" $jh }}
{{- if ne $url (include "sadari.serviceUrl" .) }}
{{- fail (printf "set jupyterhub.hub.services.sadari.url to %q (the sadari Service), not %q" (include "sadari.serviceUrl" .) $url) }}
{{- end }}
{{- $exchange := dig "singleuser" "extraEnv" "SADARI_SERVICE_URL" "" $jh }}
{{- if ne $exchange (printf "%s/services/sadari" (include "sadari.serviceUrl" .)) }}
{{- fail (printf "set jupyterhub.singleuser.extraEnv.SADARI_SERVICE_URL to %q, not %q" (printf "%s/services/sadari" (include "sadari.serviceUrl" .)) $exchange) }}
{{- end }}
{{- if .Values.postgresql.enabled }}
{{- $type := dig "hub" "db" "type" "" $jh }}
{{- $hubUrl := dig "hub" "db" "url" "" $jh }}
{{- if or (ne $type "postgres") (ne $hubUrl (include "sadari.hubDbUrl" .)) }}
{{- fail (printf "postgresql.enabled: set jupyterhub.hub.db to {type: postgres, url: %s} (got type %q, url %q)" (include "sadari.hubDbUrl" .) $type $hubUrl) }}
{{- end }}
{{- $ref := dig "hub" "extraEnv" "PGPASSWORD" "valueFrom" "secretKeyRef" dict $jh }}
{{- if or (ne (get $ref "name" | toString) .Values.postgresql.existingSecret) (ne (get $ref "key" | toString) .Values.postgresql.passwordKey) }}
{{- fail (printf "postgresql.enabled: set jupyterhub.hub.extraEnv.PGPASSWORD.valueFrom.secretKeyRef to {name: %s, key: %s} (the hub's database password)" .Values.postgresql.existingSecret .Values.postgresql.passwordKey) }}
{{- end }}
{{- end }}
{{- end }}
