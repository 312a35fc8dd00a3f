"""Backends: one per model-file format; ``open_backend`` picks one by the file (see base.Backend)."""
