"""Webhooks: CRUD, deliveries, ping and redelivery."""
