"""Short writes on the request path, in as few round trips to the database as it allows.

A transaction of N statements costs PostgreSQL N + 2 round trips (its BEGIN and COMMIT
are round trips of their own), and a request waits for each. For the few writes a hot
route makes:

- `autocommit_on_postgres(session)`: the session's next transaction runs each statement
  as its own transaction, so that a write whose parts need not land together costs one
  round trip per statement and none for BEGIN or COMMIT;
- `execute_together(session, statements)`: writes that must land together. On
  PostgreSQL they become one statement (all but the last as data-modifying CTEs, which
  PostgreSQL runs whether or not the last one refers to them): one round trip, atomic
  even under autocommit. Elsewhere (SQLite, in-process: no round trips to save) they run
  one after another in the session's transaction.

Only for statements whose results nobody reads: a CTE's rows are not returned. Give
every value explicitly: SQLAlchemy fills in Python-side column defaults (`default=`,
`onupdate=`, such as `updated_at`) for the outermost statement only, so a CTE part that
leaves one to its default sends NULL.

A hot route passes `Prepared` writes: statements built once, at import, whose values are
bound parameters (named apart across the writes that go together), with this call's
values beside them. SQLAlchemy then finds each statement, and their combination, in its
compiled cache by identity, instead of building a new statement and hashing its cache
key on every request (which cost more than the round trip).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import BindParameter, Column, Delete, Insert, Table, Update, bindparam
from sqlalchemy.orm import Session

Write = Insert | Update | Delete


@dataclass(frozen=True)
class Prepared:
    """A write built once, with bound parameters, and the values for this execution."""

    statement: Write
    params: Mapping[str, Any] = field(default_factory=dict)


def bound(column: Column[Any], name: str) -> BindParameter[Any]:
    """A bound parameter `name` with `column`'s type, for a statement built once."""
    return bindparam(name, type_=column.type)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def autocommit_on_postgres(session: Session) -> None:
    """Start the session's transaction on a connection in autocommit (PostgreSQL only);
    call before its first statement. `session.commit()` then sends nothing."""
    if is_postgres(session):
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def execute_together(session: Session, writes: Sequence[Write | Prepared]) -> None:
    """Run `writes` so that all or none land (see the module's docstring)."""
    prepared = [write if isinstance(write, Prepared) else Prepared(write) for write in writes]
    if not prepared:
        return
    # Checked on every database, so that SQLite's tests catch what PostgreSQL refuses.
    params = _merged_params(prepared)
    if not is_postgres(session) or len(prepared) == 1:
        for write in prepared:
            session.execute(write.statement, dict(write.params) or None)
        return
    session.execute(_combined(tuple(write.statement for write in prepared)), params or None)


def as_one_statement(writes: Sequence[Prepared]) -> Prepared:
    """PostgreSQL: `writes` as the one statement `execute_together` sends, with all their
    values (for a caller that sends it another way: `store.driver`)."""
    if not writes:
        raise ValueError("no writes to put together")
    params = _merged_params(writes)
    if len(writes) == 1:
        return Prepared(writes[0].statement, params)
    return Prepared(_combined(tuple(write.statement for write in writes)), params)


def _merged_params(writes: Sequence[Prepared]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for write in writes:
        if shared := params.keys() & write.params.keys():
            raise ValueError(f"writes that go together share parameter names: {sorted(shared)}")
        params.update(write.params)
    return params


@lru_cache(maxsize=128)
def _combined(statements: tuple[Write, ...]) -> Write:
    """All but the last of `statements` as data-modifying CTEs of the last; the same
    object for the same statements, so that SQLAlchemy's compiled cache finds it."""
    *first, last = statements
    combined = last
    for index, statement in enumerate(first):
        # A data-modifying CTE must return something to be a CTE at all.
        table = cast("Table", statement.table)
        returning = statement.returning(*list(table.primary_key.columns)[:1])
        combined = combined.add_cte(returning.cte(f"write_{index}"))
    return combined
