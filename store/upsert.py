"""Insert-if-absent and upsert, atomically, on both supported databases.

`INSERT ... ON CONFLICT DO NOTHING` lets two writers race to create the same natural key
(a definition version, an idempotent record) without savepoints or retry loops: exactly
one insert wins, the loser learns it lost, and the caller's transaction stays usable.
`ON CONFLICT DO UPDATE` does the same for a row that is created once and then overwritten
(a participant's phase status). SQLite and PostgreSQL spell both the same way, but
SQLAlchemy builds them per dialect.

The statements carry no values: each is built once per table, dialect and shape, and
the row goes in as bound parameters. A statement with its values inlined is a new
statement on every call, and SQLAlchemy then spends more time building and hashing its
cache key than the database spends running it (a launch opens ten thousand tasks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, cast

from sqlalchemy import CursorResult
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from store.base import Base

INSERT_CHUNK = 500
"""Rows per multi-row INSERT: well under SQLite's bound-parameter limit for wide rows."""


def _insert(session: Session, model: type[Base]) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"store.upsert does not support the {dialect} dialect")


@cache
def _insert_ignoring(dialect: str, model: type[Base], conflict_columns: tuple[str, ...]) -> Any:
    """`INSERT ... ON CONFLICT (conflict_columns) DO NOTHING` into `model`'s table."""
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(model.__table__).on_conflict_do_nothing(
        index_elements=list(conflict_columns)
    )


@cache
def _insert_updating(
    dialect: str,
    model: type[Base],
    conflict_columns: tuple[str, ...],
    update_columns: tuple[str, ...],
) -> Any:
    """`INSERT ... ON CONFLICT (conflict_columns) DO UPDATE SET update_columns`."""
    module = postgresql if dialect == "postgresql" else sqlite
    base = module.insert(model.__table__)
    return base.on_conflict_do_update(
        index_elements=list(conflict_columns),
        set_={column: base.excluded[column] for column in update_columns},
    )


def _dialect(session: Session) -> str:
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"store.upsert does not support the {dialect} dialect")
    return dialect


def _rowcount(session: Session, stmt: Any, params: Any = None) -> int:
    # Without preserve_rowcount, SQLAlchemy reports -1 for INSERT on some drivers (psycopg).
    result = cast(
        "CursorResult[Any]",
        session.execute(stmt, params, execution_options={"preserve_rowcount": True}),
    )
    return result.rowcount


def insert_if_absent(
    session: Session,
    model: type[Base],
    values: Mapping[str, Any],
    conflict_columns: Sequence[str],
) -> bool:
    """Insert `values` into `model`'s table unless a row with the same `conflict_columns` exists.

    Returns True when this call inserted the row. `conflict_columns` must be covered by a
    unique constraint or index.
    """
    stmt = _insert_ignoring(_dialect(session), model, tuple(conflict_columns))
    return _rowcount(session, stmt, dict(values)) == 1


@cache
def _insert_ignoring_returning(
    dialect: str, model: type[Base], conflict_columns: tuple[str, ...], column: str
) -> Any:
    return _insert_ignoring(dialect, model, conflict_columns).returning(model.__table__.c[column])


def insert_if_absent_returning(
    session: Session,
    model: type[Base],
    values: Mapping[str, Any],
    conflict_columns: Sequence[str],
    column: str,
) -> Any | None:
    """`insert_if_absent` that answers the inserted row's `column` (its generated id, say),
    or None when the row was there: one round trip instead of an insert and a select."""
    stmt = _insert_ignoring_returning(_dialect(session), model, tuple(conflict_columns), column)
    return session.execute(stmt, dict(values)).scalar_one_or_none()


def insert_many_if_absent(
    session: Session,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
    conflict_columns: Sequence[str],
) -> int:
    """`insert_if_absent` for many rows in few statements; returns how many were inserted.

    Every row must have the same keys. A launch of ten thousand participants is twenty
    statements instead of ten thousand round trips.
    """
    inserted = 0
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = [dict(row) for row in rows[start : start + INSERT_CHUNK]]
        stmt = _insert(session, model).values(chunk)
        stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict_columns))
        inserted += _rowcount(session, stmt)
    return inserted


def upsert(
    session: Session,
    model: type[Base],
    values: Mapping[str, Any],
    conflict_columns: Sequence[str],
    update_columns: Sequence[str],
) -> None:
    """Insert `values`, or overwrite `update_columns` of the row with the same key.

    One statement, so concurrent writers of the same key never fail on the unique
    constraint; the last writer's values win.
    """
    stmt = _insert_updating(
        _dialect(session), model, tuple(conflict_columns), tuple(update_columns)
    )
    session.execute(stmt, dict(values))
