"""The device inventory: join tokens on demand, removal, node sync: store tables and repository functions."""
