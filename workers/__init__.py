"""Processes: the worker (composition root), the MQTT bridge and the stack launcher."""
