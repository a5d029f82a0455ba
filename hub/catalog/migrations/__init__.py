"""Alembic environment for the catalog schema (run programmatically by hub.catalog.store)."""
