"""The FastAPI application serving both REST contracts, one package per feature."""
