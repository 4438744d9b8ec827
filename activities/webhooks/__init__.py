"""Webhook activities: deliver one attempt, record it, emit events to subscribers."""
