"""logctl's benchmarks: ``python -m bench`` runs every scenario side by side (see bench/__main__.py)."""
