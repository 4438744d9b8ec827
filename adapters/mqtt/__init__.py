"""MQTT: the broker clients and the shapes of events on the bus."""
