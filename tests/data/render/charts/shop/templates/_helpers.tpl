{{- define "shop.labels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
