"""The database: schema, Alembic migrations, saving versions and conflicts (``engine``)
and the read API for reports (``queries``).  Builds on ``xltools.spec``."""
