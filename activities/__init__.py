"""Activities: the side effects of the workflows, one package per feature."""
