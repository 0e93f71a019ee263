"""Every store model, one module per area, re-exported here.

Importing this package imports every area module, so `Base.metadata` is complete for
Alembic (migrations and the metadata comparison test) and for test clean-up. When you add
`store/models/<area>.py`, import its models here and add a migration.

Areas: `definitions` (published cycle definitions), `org` (employees, the embedded
HRIS), `notifications` (in-app inbox, external deliveries), `cycles` (cycles,
participants, the phase read model, tasks), `records` (the performance file), `goals`
(the goal change log), `audit` (the append-only trail of sensitive reads and changes),
`idempotency` (the API's Idempotency-Key answers) and `monitoring` (progress events from
project tools, anomalies).
"""

from store.base import Base
from store.models.audit import AuditEvent
from store.models.cycles import Cycle, CycleParticipant, ParticipantPhase, Task, TaskEvent
from store.models.definitions import DefinitionVersion
from store.models.goals import GoalChange
from store.models.idempotency import IdempotencyKey
from store.models.monitoring import Anomaly, ProgressEvent
from store.models.notifications import Notification, NotificationDelivery
from store.models.org import Employee
from store.models.records import (
    Acknowledgment,
    CalibrationChange,
    CheckIn,
    Goal,
    HrisOutbox,
    InterviewMinutes,
    Objective,
    PerformanceEvent,
    Rating,
    ResultProposal,
    Review,
)
from store.models.results import KpiActual, ResultSync, TalentDecision

__all__ = [
    "Acknowledgment",
    "Anomaly",
    "AuditEvent",
    "Base",
    "CalibrationChange",
    "CheckIn",
    "Cycle",
    "CycleParticipant",
    "DefinitionVersion",
    "Employee",
    "Goal",
    "GoalChange",
    "HrisOutbox",
    "IdempotencyKey",
    "InterviewMinutes",
    "KpiActual",
    "Notification",
    "NotificationDelivery",
    "Objective",
    "ParticipantPhase",
    "PerformanceEvent",
    "ProgressEvent",
    "Rating",
    "ResultProposal",
    "ResultSync",
    "Review",
    "TalentDecision",
    "Task",
    "TaskEvent",
]
