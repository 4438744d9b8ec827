"""Certificates: what edgewright can see of CloudCore's, and renewing CloudCore's own."""
