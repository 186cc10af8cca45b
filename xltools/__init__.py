"""xltools: standard account-plan workbooks for Japanese B2B sales organisations.

spec (workbook_templates/) -> generate -> rep fills -> read + normalise + validate
-> store (database) -> report.
"""
__version__ = "0.1.0"
