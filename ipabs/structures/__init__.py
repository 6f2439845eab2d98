"""The deal's structure: the note waterfall (v1 sequential)."""
