"""Shared fixtures.  Real components (LibreOffice, PostgreSQL) are used for real:
when ``CI`` is set, a missing component fails the test instead of skipping it."""
from __future__ import annotations

import os
import shutil
import uuid

import pytest

IN_CI = bool(os.environ.get("CI"))


@pytest.fixture(autouse=True, scope="session")
def _own_cache_dir(tmp_path_factory):
    """The generator-text cache of this test run (never the user's ~/.cache/xltools)."""
    if "XLTOOLS_CACHE_DIR" not in os.environ:
        os.environ["XLTOOLS_CACHE_DIR"] = str(tmp_path_factory.mktemp("xltools-cache"))
    yield


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI is set: this test must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def soffice() -> str:
    """Path of LibreOffice's soffice binary."""
    path = shutil.which("soffice") or shutil.which("libreoffice")
    if not path:
        skip_or_fail("LibreOffice (soffice) is not installed")
    return path


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """URL of a real PostgreSQL server (XLTOOLS_TEST_PG_URL, see tools/start_postgres.sh)."""
    url = os.environ.get("XLTOOLS_TEST_PG_URL")
    if not url:
        skip_or_fail("XLTOOLS_TEST_PG_URL is not set (run tools/start_postgres.sh)")
    import sqlalchemy as sa

    try:
        eng = sa.create_engine(url)
        with eng.connect() as c:
            c.execute(sa.text("select 1"))
        eng.dispose()
    except Exception as exc:  # pragma: no cover - depends on the machine
        skip_or_fail(f"PostgreSQL at XLTOOLS_TEST_PG_URL is not reachable: {exc}")
    return url


@pytest.fixture
def pg_url(pg_server_url: str):
    """A fresh, empty PostgreSQL schema for one test (dropped afterwards)."""
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    eng = sa.create_engine(pg_server_url)
    with eng.begin() as c:
        c.execute(sa.text(f'create schema "{schema}"'))
    sep = "&" if "?" in pg_server_url else "?"
    yield f"{pg_server_url}{sep}options=-csearch_path%3D{schema}"
    with eng.begin() as c:
        c.execute(sa.text(f'drop schema "{schema}" cascade'))
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """Run a test against the embedded default and against a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'xltools.db'}"
    return request.getfixturevalue("pg_url")
