"""Exceptions the library raises for user-facing problems.  The CLI turns every
:class:`XltoolsError` into a clean ``click.ClickException`` (no traceback)."""


class XltoolsError(Exception):
    """A problem the user can fix: bad arguments, a bad settings file, a missing file."""
