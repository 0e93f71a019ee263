"""Persistence: SQLAlchemy 2 models, engines and sessions, queries, Alembic migrations.

SQLite by default (a file in the data folder), PostgreSQL through psycopg 3 by settings;
`store.driver` sends a hot route's statements on psycopg's own connections.
May import: perfloop.settings. Imported by: definitions.registry, activities, api, perfloop.
"""
