"""A small organisation for authorisation tests: two departments, a three-level chain,
HRBPs, an HR admin and an operator; and the callers the BOLA matrix asks as.

```
E001 CEO (Executive)
├── E002 head of Engineering       skip-level of E004
│   └── E003 engineering manager   manager of E004
│       ├── E004 the subject
│       └── E005 peer
├── E010 head of Sales             another department's manager
│   └── E011 sales rep
├── H001 HRBP of Engineering   H002 HRBP of Sales   H003 HR admin   (People)
└── O001 operator (Operations)
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from store.db import session_scope
from store.models import Employee

SUBJECT = "E004"
ENGINEERING = "Engineering"
SALES = "Sales"

_PEOPLE = [
    # id, name, manager, department, salary
    ("E001", "Ada Chief", None, "Executive", "250000"),
    ("E002", "Grace Head", "E001", ENGINEERING, "180000"),
    ("E003", "Linus Lead", "E002", ENGINEERING, "120000"),
    ("E004", "Sam Subject", "E003", ENGINEERING, "80000"),
    ("E005", "Pat Peer", "E003", ENGINEERING, "81000"),
    ("E010", "Sally Sales", "E001", SALES, "150000"),
    ("E011", "Rory Rep", "E010", SALES, "60000"),
    ("H001", "Hana Partner", "E001", "People", "90000"),
    ("H002", "Hugo Partner", "E001", "People", "90000"),
    ("H003", "Helen Admin", "E001", "People", "95000"),
    ("O001", "Otto Ops", "E001", "Operations", "85000"),
]


def add_org(url: str) -> None:
    with session_scope(url) as session:
        for employee_id, name, manager, department, salary in _PEOPLE:
            session.add(
                Employee(
                    employee_id=employee_id,
                    name=name,
                    email=f"{employee_id.lower()}@example.com",
                    manager_id=manager,
                    department=department,
                    hire_date=date(2020, 1, 1),
                    salary=Decimal(salary),
                    range_midpoint=Decimal(salary),
                    currency="EUR",
                    level=1,
                    job_title="Staff",
                )
            )


@dataclass(frozen=True)
class Caller:
    name: str
    employee_id: str
    roles: tuple[str, ...] = ()
    departments: tuple[str, ...] = field(default=())


CALLERS = (
    Caller("self", SUBJECT),
    Caller("peer", "E005"),
    Caller("manager", "E003"),
    Caller("skip-level", "E002"),
    Caller("other-dept-manager", "E010"),
    Caller("hrbp", "H001", ("hrbp",), (ENGINEERING,)),
    Caller("hrbp-other-dept", "H002", ("hrbp",), (SALES,)),
    Caller("hr-admin", "H003", ("hr-admin",)),
    Caller("ops", "O001", ("ops",)),
)
BY_NAME = {caller.name: caller for caller in CALLERS}
