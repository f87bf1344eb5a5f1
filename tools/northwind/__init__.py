"""Generators of Northwind Records' demo datasets, one module per concept (used by
``tools/generate_demo_data.py``, which seeds them and writes the files)."""
