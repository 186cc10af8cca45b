"""Exceptions the library raises for user-facing problems.  The CLI turns every
:class:`XltoolsError` into a clean message (text, or JSON under ``--format json``)
and its ``exit_code``; the library never imports click.

Exit codes, for scripts: 0 all good, 1 data problems found (files with errors,
rejected files, roster rows skipped), 2 usage error (the command line is wrong:
:class:`UsageError`), 3 the tool could not do its job (every other error).
"""

#: exit codes of every command (see the module docs)
EXIT_OK, EXIT_DATA, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


class XltoolsError(Exception):
    """A problem the user can fix: a bad settings file, an unusable database, a
    file that cannot be written.  ``code`` is stable (``{"error": {"code": ...}}``)."""

    code = "failed"
    exit_code = EXIT_FAILED


class UsageError(XltoolsError):
    """The command line is wrong: a bad option value, a missing or unknown argument."""

    code = "usage"
    exit_code = EXIT_USAGE
