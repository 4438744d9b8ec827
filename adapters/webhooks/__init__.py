"""Webhooks: targets, signatures, one attempt over HTTP, starting delivery runs."""
