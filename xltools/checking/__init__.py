"""Checking a read plan: normalising typed values, validation, business rules, the
``check`` entry point, the annotated copy, and reading a roster file.
Builds on ``xltools.workbook`` and ``xltools.spec``."""
