"""Deterministic workflow code, one package per feature, and the contracts every layer shares."""
