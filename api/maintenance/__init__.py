"""Maintenance mode (API): start, stop and status, and the gate refusing writes."""
