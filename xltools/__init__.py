"""xltools: standard account-plan workbooks for Japanese B2B sales organisations.

spec (workbook_templates/) -> generate -> rep fills -> read + normalise + validate
-> store (database) -> report.
"""
__version__ = "0.1.0"


def __getattr__(name: str):
    """``xltools.frames`` / ``xltools.read_plan`` (pandas), imported on first use only."""
    if name in ("frames", "read_plan"):
        from xltools.reports import dataframes

        return getattr(dataframes, name)
    raise AttributeError(f"module 'xltools' has no attribute {name!r}")
