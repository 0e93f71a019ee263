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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Delete, Insert, Table, Update
from sqlalchemy.orm import Session

Write = Insert | Update | Delete


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def autocommit_on_postgres(session: Session) -> None:
    """Start the session's transaction on a connection in autocommit (PostgreSQL only);
    call before its first statement. `session.commit()` then sends nothing."""
    if is_postgres(session):
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def execute_together(session: Session, statements: Sequence[Write]) -> None:
    """Run `statements` so that all or none land (see the module's docstring)."""
    if not statements:
        return
    if not is_postgres(session) or len(statements) == 1:
        for statement in statements:
            session.execute(statement)
        return
    *first, last = statements
    combined = last
    for index, statement in enumerate(first):
        # A data-modifying CTE must return something to be a CTE at all.
        table = cast("Table", statement.table)
        returning = statement.returning(*list(table.primary_key.columns)[:1])
        combined = combined.add_cte(returning.cte(f"write_{index}"))
    session.execute(combined)
