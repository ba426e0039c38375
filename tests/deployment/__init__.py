"""Deployment files: compose.yaml, server/Dockerfile, Prometheus rules and Grafana dashboards."""
