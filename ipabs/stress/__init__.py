"""Stress testing: stress files (named stresses and grids of key-path changes), applied to a
scenario and run on common random numbers (docs/model.md, section 6.1)."""
