"""Test and demo data: the random corpus (demo, benchmarks), hypothesis strategies
built from the spec, and the end-to-end demo."""
