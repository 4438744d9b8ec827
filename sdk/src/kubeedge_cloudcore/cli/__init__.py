"""The `edgewright` command line (`pip install "kubeedge-cloudcore-sdk[cli]"`)."""

from __future__ import annotations

from .app import app, main

__all__ = ["app", "main"]
