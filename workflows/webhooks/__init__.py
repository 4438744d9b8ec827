"""Webhook deliveries: one durable run per (webhook, event)."""
