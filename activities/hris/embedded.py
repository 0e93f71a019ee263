"""The embedded HRIS: people in the store's employee table, results in its HRIS outbox.

The table is filled from a CSV or JSON file with `load_organisation` (the CLI's
`perfloop org load PATH`). Approved results are written to `hris_outbox`, one row per
business key; that row *is* the delivery in the embedded setup (status `sent`), and it is
what an export or a payroll system picks up.

File format: one record per person, with the fields of `activities.hris.base.Person`
(`employee_id`, `name`, `email`, `department` required; `manager_id`, `location`,
`employment_type`, `hire_date`, `salary`, `range_midpoint`, `currency`, `level`,
`job_title`, `active`, `terminated_on` optional).

- CSV: a header row naming the columns (any order, UTF-8, an Excel BOM is fine); an empty
  cell means "not given" (the field's default). Row numbers in errors are the file's line
  numbers: the header is row 1, the first person row 2 (a quoted cell spanning several
  lines counts as the line its row ends on).
- JSON: a list of objects, or `{"people": [...]}`; row numbers count the objects from 1.
  Numbers are read exactly (a salary of 61234.10 stays 61234.10).

Loading is all or nothing: every row is validated, and every problem (bad fields, duplicate
ids, unknown managers, management cycles) is reported together, each with its row number,
in one `OrganisationError`; nothing is written unless the whole file is good. Rows are
upserted by `employee_id`; people already in the table but absent from the file are left
as they are (set `active: false` or `terminated_on` to record a leaver).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from activities.hris.base import Person, PushReceipt, ResultRecord
from definitions.errors import PerfloopError
from store.base import utc_now
from store.models.org import Employee
from store.models.records import HrisOutbox
from store.upsert import insert_if_absent

PERSON_FIELDS: tuple[str, ...] = tuple(Person.model_fields)
REQUIRED_FIELDS: tuple[str, ...] = tuple(
    name for name, field in Person.model_fields.items() if field.is_required()
)

SessionFactory = Callable[[], Session]

_EXTRA = "\0extra"  # DictReader's key for values beyond the header's columns
_NOT_OBJECT = "\0not_object"  # a JSON entry that is not an object (its type's name)


class OrganisationError(PerfloopError):
    """An organisation file was refused; `problems` lists every fault, each with its row."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems: tuple[str, ...] = tuple(problems)
        count = len(self.problems)
        heading = f"{source}: not loaded, {count} problem{'s' if count != 1 else ''}:"
        super().__init__("\n".join([heading, *(f"  {p}" for p in self.problems)]))


@dataclass(frozen=True)
class LoadResult:
    """What `load_organisation` changed."""

    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass(frozen=True)
class _Row:
    number: int
    values: dict[str, Any]

    @property
    def label(self) -> str:
        employee_id = self.values.get("employee_id")
        return f"row {self.number}" + (f" ({employee_id})" if employee_id else "")


# --- reading -----------------------------------------------------------------------------


def read_organisation_file(path: Path) -> list[Person]:
    """Read and validate a CSV or JSON organisation file, without touching the store.

    Checks each row and the file as a whole (duplicate ids, managers that are not in the
    file, cycles); `load_organisation` checks managers against the table too.
    """
    rows = _read_rows(path)
    people, problems = _validate_rows(rows)
    problems += _check_relations(rows, people, existing={})
    if problems:
        raise OrganisationError(path.name, _in_row_order(problems))
    return [person for _, person in people]


def _in_row_order(problems: list[tuple[int, str]]) -> list[str]:
    return [message for _, message in sorted(problems, key=lambda p: p[0])]


def _read_rows(path: Path) -> list[_Row]:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise OrganisationError(path.name, [f"unsupported file type {suffix!r}: use .csv or .json"])
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise OrganisationError(
            path.name, [f"cannot read the file: {exc.strerror or exc}"]
        ) from exc
    except UnicodeDecodeError as exc:
        raise OrganisationError(path.name, [f"not UTF-8 text: {exc.reason}"]) from exc
    return _read_csv(path.name, text) if suffix == ".csv" else _read_json(path.name, text)


def _read_csv(source: str, text: str) -> list[_Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey=_EXTRA)
    header = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = header
    problems: list[str] = []
    unknown = [name for name in header if name not in PERSON_FIELDS]
    if unknown:
        problems.append(
            f"row 1: unknown column(s) {', '.join(map(repr, unknown))}; "
            f"the columns are {', '.join(PERSON_FIELDS)}"
        )
    missing = [name for name in REQUIRED_FIELDS if name not in header]
    if missing:
        problems.append(f"row 1: missing required column(s) {', '.join(missing)}")
    if len(set(header)) != len(header):
        problems.append("row 1: a column is named twice")
    if problems:
        raise OrganisationError(source, problems)

    rows: list[_Row] = []
    for record in reader:
        number = reader.line_num
        values: dict[str, Any] = {}
        for key, value in record.items():
            if key == _EXTRA:
                values[_EXTRA] = value
            elif isinstance(value, str) and value.strip():
                values[key] = value.strip()
        if values:
            rows.append(_Row(number, values))
    return rows


def _read_json(source: str, text: str) -> list[_Row]:
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise OrganisationError(
            source, [f"line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}"]
        ) from exc
    if isinstance(document, dict) and set(document) == {"people"}:
        document = document["people"]
    if not isinstance(document, list):
        raise OrganisationError(
            source, ['expected a list of people, or an object {"people": [...]}']
        )
    rows: list[_Row] = []
    for number, entry in enumerate(document, start=1):
        if isinstance(entry, dict):
            rows.append(_Row(number, {str(k): v for k, v in entry.items()}))
        else:
            rows.append(_Row(number, {_NOT_OBJECT: type(entry).__name__}))
    return rows


# --- checking ----------------------------------------------------------------------------


Problems = list[tuple[int, str]]
"""(row number, message) pairs, sorted by row before they are reported."""


def _validate_rows(rows: Sequence[_Row]) -> tuple[list[tuple[_Row, Person]], Problems]:
    people: list[tuple[_Row, Person]] = []
    problems: Problems = []
    for row in rows:
        if _NOT_OBJECT in row.values:
            kind = row.values[_NOT_OBJECT]
            problems.append((row.number, f"{row.label}: expected an object, got {kind}"))
            continue
        if _EXTRA in row.values:
            problems.append((row.number, f"{row.label}: more values than columns"))
            continue
        try:
            person = Person.model_validate(row.values)
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                where = ".".join(str(part) for part in error["loc"]) or "row"
                problems.append((row.number, f"{row.label}: {where}: {error['msg']}"))
            continue
        if not person.employee_id.strip():
            problems.append((row.number, f"{row.label}: employee_id: must not be blank"))
            continue
        people.append((row, person))
    return people, problems


def _check_relations(
    rows: Sequence[_Row],
    people: Sequence[tuple[_Row, Person]],
    existing: Mapping[str, str | None],
) -> Problems:
    """Duplicate ids, unknown managers and management cycles, over the table plus the file."""
    problems: Problems = []
    first_row: dict[str, int] = {}
    for row in rows:
        employee_id = row.values.get("employee_id")
        if not isinstance(employee_id, str) or not employee_id:
            continue
        if employee_id in first_row:
            problems.append(
                (
                    row.number,
                    f"{row.label}: employee_id {employee_id} is also on row "
                    f"{first_row[employee_id]}",
                )
            )
        else:
            first_row[employee_id] = row.number
    # Anyone named in the file counts as known, even on a row with other faults: that row
    # is reported already, and a second "unknown manager" line would only mislead.
    known = set(existing) | set(first_row)
    for row, person in people:
        if person.manager_id is not None and person.manager_id not in known:
            problems.append(
                (row.number, f"{row.label}: manager_id {person.manager_id} does not exist")
            )

    managers: dict[str, str | None] = dict(existing)
    row_of: dict[str, int] = {}
    for row, person in people:
        managers[person.employee_id] = person.manager_id
        row_of[person.employee_id] = row.number
    for cycle in _management_cycles(managers):
        chain = " → ".join([*cycle, cycle[0]])
        rows_in = sorted({row_of[e] for e in cycle if e in row_of})
        if not rows_in:
            where = "the employee table"
        elif len(rows_in) == 1:
            where = f"row {rows_in[0]}"
        else:
            where = f"rows {', '.join(map(str, rows_in))}"
        problems.append((rows_in[0] if rows_in else 0, f"{where}: management cycle {chain}"))
    return problems


def _management_cycles(managers: Mapping[str, str | None]) -> list[list[str]]:
    """Every cycle in the reporting lines, each once, starting at its smallest id."""
    done: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(managers):
        path: list[str] = []
        on_path: dict[str, int] = {}
        node: str | None = start
        while node is not None and node not in done and node in managers:
            if node in on_path:
                cycle = path[on_path[node] :]
                smallest = cycle.index(min(cycle))
                cycles.append(cycle[smallest:] + cycle[:smallest])
                break
            on_path[node] = len(path)
            path.append(node)
            node = managers[node]
        done.update(path)
    return cycles


def _reporting_order(people: Sequence[Person]) -> list[Person]:
    """Managers before their reports, so that a manager_id foreign key is always satisfied."""
    in_file = {person.employee_id: person for person in people}
    ordered: list[Person] = []
    placed: set[str] = set()

    def place(person: Person) -> None:
        # Iterative walk up the chain (no recursion limit on deep hierarchies).
        chain: list[Person] = []
        current: Person | None = person
        while current is not None and current.employee_id not in placed:
            chain.append(current)
            placed.add(current.employee_id)
            current = in_file.get(current.manager_id) if current.manager_id else None
        ordered.extend(reversed(chain))

    for person in people:
        place(person)
    return ordered


# --- loading -----------------------------------------------------------------------------


def load_organisation(session: Session, path: Path | str) -> LoadResult:
    """Validate `path` completely, then upsert its people into the employee table.

    Flushes but does not commit: the caller owns the transaction. Raises
    `OrganisationError` (listing every problem) and leaves the table untouched when any row
    or reference is wrong.
    """
    path = Path(path)
    rows = _read_rows(path)
    people, problems = _validate_rows(rows)
    stored = {e.employee_id: e for e in session.scalars(select(Employee))}
    problems += _check_relations(
        rows, people, existing={i: e.manager_id for i, e in stored.items()}
    )
    if problems:
        raise OrganisationError(path.name, _in_row_order(problems))

    created = updated = unchanged = 0
    for person in _reporting_order([person for _, person in people]):
        values = person.model_dump()
        row = stored.get(person.employee_id)
        if row is None:
            session.add(Employee(**values))
            created += 1
            continue
        changed = False
        for field, value in values.items():
            if _differs(getattr(row, field), value):
                setattr(row, field, value)
                changed = True
        if changed:
            updated += 1
        else:
            unchanged += 1
    session.flush()
    return LoadResult(created=created, updated=updated, unchanged=unchanged)


def _differs(stored: Any, new: Any) -> bool:
    if isinstance(stored, Decimal) and isinstance(new, Decimal):
        return stored.compare(new) != 0
    return bool(stored != new)


def person_from_row(row: Employee) -> Person:
    """The `Person` an employee row describes."""
    return Person.model_validate({field: getattr(row, field) for field in PERSON_FIELDS})


def list_employees(session: Session, *, department: str | None = None) -> list[Person]:
    """Everyone in the employee table (of one department), ordered by id."""
    query = select(Employee).order_by(Employee.employee_id)
    if department is not None:
        query = query.where(Employee.department == department)
    return [person_from_row(row) for row in session.scalars(query)]


# --- the adapter -------------------------------------------------------------------------


class EmbeddedHris:
    """`Hris` over the store: the employee table in, the HRIS outbox out.

    Database work runs in a worker thread (`asyncio.to_thread`), so the activity worker's
    event loop is never blocked by a query.
    """

    def __init__(self, session_factory: SessionFactory) -> None:
        self._session_factory = session_factory

    async def list_people(self) -> list[Person]:
        return await asyncio.to_thread(self._list_people)

    async def push_result(self, record: ResultRecord) -> PushReceipt:
        inserted = await asyncio.to_thread(self._push_result, record)
        return PushReceipt(
            business_key=record.business_key, status="sent" if inserted else "already_sent"
        )

    def _list_people(self) -> list[Person]:
        with self._session_factory() as session:
            return list_employees(session)

    def _push_result(self, record: ResultRecord) -> bool:
        with self._session_factory() as session, session.begin():
            return insert_if_absent(
                session,
                HrisOutbox,
                {
                    "business_key": record.business_key,
                    "cycle_id": record.cycle_id,
                    "employee_id": record.employee_id,
                    "kind": record.kind,
                    "data": record.model_dump(mode="json")["data"],
                    "status": "sent",
                    "attempts": 1,
                    "sent_at": utc_now(),
                },
                ["business_key"],
            )
