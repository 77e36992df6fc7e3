"""Lily's Alembic environment, shipped as a package so that migrations run from a
non-editable install: see lily_adapters.sql.migrate for the programmatic entry points."""
