"""Clients of the outside world that every process may import (worker, bridge, simulator, API)."""
