"""The device inventory: join tokens on demand, removal, node sync (activities)."""
