"""Nominal (business) time against workflow time.

A cycle runs on its calendar: "due 2027-01-31". The clock maps those nominal instants to
workflow time, optionally accelerated (`scale` nominal seconds per real second) so a demo
runs a year in minutes. With scale 1 and real_start == nominal_start, it is the identity.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.types import ClockSpec


class Clock:
    def __init__(self, spec: ClockSpec) -> None:
        self.spec = spec

    def real(self, nominal: datetime) -> datetime:
        offset = (nominal - self.spec.nominal_start) / self.spec.scale
        return self.spec.real_start + offset

    def nominal(self, real: datetime) -> datetime:
        return self.spec.nominal_start + (real - self.spec.real_start) * self.spec.scale

    def now(self) -> datetime:
        """Nominal now."""
        return self.nominal(workflow.now())

    def until(self, nominal: datetime) -> timedelta:
        """Real time left until a nominal instant (never negative)."""
        return max(self.real(nominal) - workflow.now(), timedelta())

    async def sleep_until(self, nominal: datetime) -> None:
        delay = self.until(nominal)
        if delay > timedelta():
            await workflow.sleep(delay)
