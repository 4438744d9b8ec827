"""Prometheus metrics and health figures of the API process."""
