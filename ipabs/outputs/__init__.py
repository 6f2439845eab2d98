"""Outputs: the atomic run folder (Parquet with the manifest, manifest.json) and charts."""
