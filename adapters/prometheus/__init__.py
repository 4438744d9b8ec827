"""Prometheus exposition for the processes without a web server of their own (worker,
bridge), and the Temporal SDK's metrics in the same registry."""
