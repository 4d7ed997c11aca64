{{/* Names and labels. */}}
{{- define "echocenter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "echocenter.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "echocenter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "echocenter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "echocenter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The server pods only (the migration Job's pods carry component=migrations). */}}
{{- define "echocenter.serverSelectorLabels" -}}
{{ include "echocenter.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "echocenter.labels" -}}
helm.sh/chart: {{ include "echocenter.chart" . }}
{{ include "echocenter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: echocenter
{{- end -}}

{{- define "echocenter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "echocenter.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "echocenter.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) -}}
{{- end -}}

{{/* The five variables that only ever travel in a Secret. */}}
{{- define "echocenter.secretVars" -}}
JWT_SECRET ADMIN_PASSWORD DATABASE_URL REDIS_URL BUTLER_API_TOKEN
{{- end -}}

{{/* The Secret the pods read: the user's existingSecret or the chart's own. */}}
{{- define "echocenter.secretName" -}}
{{- .Values.existingSecret | default (include "echocenter.fullname" .) -}}
{{- end -}}

{{/*
The key of the secret that holds a variable, or "" when there is none.
Call with (dict "root" $ "var" "JWT_SECRET").
*/}}
{{- define "echocenter.secretKey" -}}
{{- $v := .root.Values -}}
{{- if $v.existingSecret -}}
{{- index ($v.existingSecretKeys | default dict) .var | default "" -}}
{{- else if index ($v.secrets | default dict) .var -}}
{{- .var -}}
{{- end -}}
{{- end -}}

{{/* A value of `config` as a string ("" when unset). Call with (dict "root" $ "key" "DB_DRIVER"). */}}
{{- define "echocenter.config" -}}
{{- $c := .root.Values.config | default dict -}}
{{- if hasKey $c .key -}}
{{- $val := index $c .key -}}
{{- if not (kindIs "invalid" $val) -}}{{- toString $val | trim -}}{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The non-secret environment: every non-empty `config` entry, plus the chart's derived defaults.
Returned as YAML of a map; callers use `include ... | fromYaml`.
*/}}
{{- define "echocenter.configEnv" -}}
{{- $out := dict -}}
{{- range $k, $val := (.Values.config | default dict) -}}
{{- if not (kindIs "invalid" $val) -}}
{{- $s := toString $val | trim -}}
{{- if ne $s "" -}}{{- $_ := set $out $k $s -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- if and .Values.ingress.enabled (not (hasKey $out "TRUST_PROXY")) -}}
{{- $_ := set $out "TRUST_PROXY" "true" -}}
{{- end -}}
{{- if ne (get $out "DB_DRIVER" | default "sqlite") "sqlite" -}}
{{- $_ := unset $out "SQLITE_PATH" -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
A duration setting in whole seconds, rounded up, parsed like the server does: milliseconds as a bare
number, or a number with ms, s, m or h. Call with (dict "value" "10s" "default" "10s" "name" "X").
*/}}
{{- define "echocenter.durationSeconds" -}}
{{- $text := toString .value | trim | lower -}}
{{- if eq $text "" -}}{{- $text = .default -}}{{- end -}}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?(ms|s|m|h)?$" $text) -}}
{{- fail (printf "config.%s: %q is not a duration (e.g. 500ms, 10s, 5m, 1h)" .name $text) -}}
{{- end -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $text -}}
{{- $unit := trimPrefix $number $text | default "ms" -}}
{{- $factor := get (dict "ms" 0.001 "s" 1 "m" 60 "h" 3600) $unit -}}
{{- mulf (float64 $number) $factor | ceil | int -}}
{{- end -}}

{{/*
Checks that make a broken release fail at `helm install/upgrade/template` with a message that says
what to set, instead of pods that crash-loop later.
*/}}
{{/* The most pods there can be: maxReplicas with the autoscaler, else replicaCount. */}}
{{- define "echocenter.maxReplicas" -}}
{{- if .Values.autoscaling.enabled -}}{{- int .Values.autoscaling.maxReplicas -}}{{- else -}}{{- int .Values.replicaCount -}}{{- end -}}
{{- end -}}

{{- define "echocenter.validate" -}}
{{- $v := .Values -}}
{{- $replicas := include "echocenter.maxReplicas" . | int -}}
{{- $count := printf "replicaCount=%d" $replicas -}}
{{- if $v.autoscaling.enabled -}}{{- $count = printf "autoscaling.maxReplicas=%d" $replicas -}}{{- end -}}
{{- $driver := include "echocenter.config" (dict "root" . "key" "DB_DRIVER") | default "sqlite" -}}
{{- $production := eq (include "echocenter.config" (dict "root" . "key" "NODE_ENV")) "production" -}}
{{- range $var := splitList " " (include "echocenter.secretVars" .) -}}
{{- if hasKey ($v.config | default dict) $var -}}
{{- fail (printf "config.%s: this is a secret and is never put into the ConfigMap; set secrets.%s or use existingSecret" $var $var) -}}
{{- end -}}
{{- end -}}
{{- if not (has $driver (list "postgres" "sqlite")) -}}
{{- fail (printf "config.DB_DRIVER: %q is neither postgres nor sqlite" $driver) -}}
{{- end -}}
{{- $missing := list -}}
{{- if and $production (not (include "echocenter.config" (dict "root" . "key" "ADMIN_USERNAME"))) -}}
{{- $missing = append $missing "config.ADMIN_USERNAME (the bootstrap admin's name; required with NODE_ENV=production)" -}}
{{- end -}}
{{- if $v.existingSecret -}}
{{- $keys := $v.existingSecretKeys | default dict -}}
{{- range $var := list "JWT_SECRET" "ADMIN_PASSWORD" -}}
{{- if not (index $keys $var) -}}
{{- $missing = append $missing (printf "existingSecretKeys.%s (the key of Secret %q that holds %s)" $var $v.existingSecret $var) -}}
{{- end -}}
{{- end -}}
{{- if and (eq $driver "postgres") (not (index $keys "DATABASE_URL")) -}}
{{- $missing = append $missing (printf "existingSecretKeys.DATABASE_URL (required with DB_DRIVER=postgres)") -}}
{{- end -}}
{{- else -}}
{{- $s := $v.secrets | default dict -}}
{{- if not $s.JWT_SECRET -}}
{{- $missing = append $missing "secrets.JWT_SECRET (a random string of at least 32 characters, e.g. `openssl rand -base64 48`)" -}}
{{- else if and $production (lt (len (toString $s.JWT_SECRET)) 32) -}}
{{- $missing = append $missing "secrets.JWT_SECRET must be at least 32 characters with NODE_ENV=production" -}}
{{- end -}}
{{- if not $s.ADMIN_PASSWORD -}}
{{- $missing = append $missing "secrets.ADMIN_PASSWORD (the bootstrap admin's password, 8-128 characters)" -}}
{{- else if and $production (eq (toString $s.ADMIN_PASSWORD) "admin123") -}}
{{- $missing = append $missing "secrets.ADMIN_PASSWORD must not be the development default with NODE_ENV=production" -}}
{{- end -}}
{{- if and (eq $driver "postgres") (not $s.DATABASE_URL) -}}
{{- $missing = append $missing "secrets.DATABASE_URL (postgres://user:password@host:5432/db; required with DB_DRIVER=postgres)" -}}
{{- end -}}
{{- end -}}
{{- if $missing -}}
{{- fail (printf "echocenter: missing settings. Set them (secrets with --set-string secrets.NAME=... or existingSecret):\n  - %s" (join "\n  - " $missing)) -}}
{{- end -}}
{{- if and (gt $replicas 1) (not (include "echocenter.secretKey" (dict "root" . "var" "REDIS_URL"))) -}}
{{- fail (printf "echocenter: %s needs REDIS_URL: replicas exchange Socket.IO traffic and presence through Redis. Set secrets.REDIS_URL (or existingSecretKeys.REDIS_URL with existingSecret), or use replicaCount=1." $count) -}}
{{- end -}}
{{- if and (gt $replicas 1) (eq $driver "sqlite") -}}
{{- fail (printf "echocenter: %s needs DB_DRIVER=postgres: with sqlite each pod would have its own database file." $count) -}}
{{- end -}}
{{- include "echocenter.validateAutoscaling" (dict "root" . "driver" $driver) -}}
{{- if and $v.migrations.job.enabled (ne $driver "postgres") -}}
{{- fail "echocenter: migrations.job.enabled needs DB_DRIVER=postgres (a SQLite file lives in the pod; it migrates itself at start)" -}}
{{- end -}}
{{- $shutdown := include "echocenter.durationSeconds" (dict "value" (include "echocenter.config" (dict "root" . "key" "SHUTDOWN_TIMEOUT")) "default" "10s" "name" "SHUTDOWN_TIMEOUT") | int -}}
{{- $preStop := int $v.lifecycle.preStopSleepSeconds -}}
{{- $needed := add $preStop $shutdown 5 -}}
{{- if le (int $v.terminationGracePeriodSeconds) $needed -}}
{{- fail (printf "echocenter: terminationGracePeriodSeconds=%d must be greater than lifecycle.preStopSleepSeconds (%d) + SHUTDOWN_TIMEOUT (%ds) + 5 s of shutdown watchdog = %d, or Kubernetes kills pods before they drain their sockets" (int $v.terminationGracePeriodSeconds) $preStop $shutdown $needed) -}}
{{- end -}}
{{- end -}}

{{/*
Environment variables that come from the Secret, one secretKeyRef each (only the keys that exist).
Call with (dict "root" $ "secretName" "..." "vars" (list ...)); vars defaults to all five.
DATABASE_URL is left out with sqlite; REDIS_URL is optional with one replica and BUTLER_API_TOKEN
always is, so an existingSecret without them works.
*/}}
{{- define "echocenter.secretEnv" -}}
{{- $root := .root -}}
{{- $driver := include "echocenter.config" (dict "root" $root "key" "DB_DRIVER") | default "sqlite" -}}
{{- $vars := .vars | default (splitList " " (include "echocenter.secretVars" $root)) -}}
{{- range $var := $vars }}
{{- $key := include "echocenter.secretKey" (dict "root" $root "var" $var) }}
{{- if and $key (not (and (eq $var "DATABASE_URL") (eq $driver "sqlite"))) }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $.secretName }}
      key: {{ $key }}
      {{- if or (eq $var "BUTLER_API_TOKEN") (and (eq $var "REDIS_URL") (le (include "echocenter.maxReplicas" $root | int) 1)) }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* What the migration Job needs: the database and what the production start checks read. */}}
{{- define "echocenter.migrationSecretVars" -}}
JWT_SECRET ADMIN_PASSWORD DATABASE_URL
{{- end -}}

{{/* The autoscaler's own checks. Call with (dict "root" $ "driver" "postgres"). */}}
{{- define "echocenter.validateAutoscaling" -}}
{{- $a := .root.Values.autoscaling -}}
{{- if $a.enabled -}}
{{- if eq .driver "sqlite" -}}
{{- fail "echocenter: autoscaling.enabled needs DB_DRIVER=postgres: with sqlite each pod would have its own database file (one replica only)." -}}
{{- end -}}
{{- if gt (int $a.minReplicas) (int $a.maxReplicas) -}}
{{- fail (printf "echocenter: autoscaling.minReplicas=%d is above autoscaling.maxReplicas=%d" (int $a.minReplicas) (int $a.maxReplicas)) -}}
{{- end -}}
{{- if not (or $a.targetCPUUtilizationPercentage $a.connectedSockets.enabled) -}}
{{- fail "echocenter: autoscaling.enabled needs a metric: autoscaling.targetCPUUtilizationPercentage and/or autoscaling.connectedSockets.enabled" -}}
{{- end -}}
{{- if and $a.targetCPUUtilizationPercentage (not (dig "requests" "cpu" "" (.root.Values.resources | default dict))) -}}
{{- fail "echocenter: autoscaling.targetCPUUtilizationPercentage is a percentage of resources.requests.cpu: set it" -}}
{{- end -}}
{{- end -}}
{{- end -}}
