"""The MQTT bridge (`python -m workers.bridge`): devices' messages into the store, the
event bus and the workflows that wait on them. See workers/bridge/__main__.py."""
