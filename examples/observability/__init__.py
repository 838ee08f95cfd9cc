"""Operating conveyor: alert rules, a Grafana dashboard, Sentry and OpenTelemetry set-ups.

See README.md in this folder.
"""
