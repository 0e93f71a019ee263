"""Alembic migration environment for the store; run it through `store.migrate`."""
