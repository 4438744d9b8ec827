"""Activities of the security audit log: its retention."""
