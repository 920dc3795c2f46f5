{{- define "palisade-agent.fullname" -}}
{{- if contains "palisade-agent" .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}{{- else -}}{{ printf "%s-palisade-agent" .Release.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "palisade-agent.labels" -}}
app.kubernetes.io/name: palisade-agent
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: palisade
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "palisade-agent.selectorLabels" -}}
app.kubernetes.io/name: palisade-agent
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "palisade-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ default (include "palisade-agent.fullname" .) .Values.serviceAccount.name }}{{- else -}}{{ required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- define "palisade-agent.credentialsSecret" -}}
{{ default (printf "%s-credentials" (include "palisade-agent.fullname" .) | trunc 253) .Values.credentialsSecret.name }}
{{- end -}}

{{- define "palisade-agent.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{- define "palisade-agent.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}
