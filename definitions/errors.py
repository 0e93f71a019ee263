"""The error hierarchy of perfloop's domain.

`PerfloopError` is the root every layer catches; the API maps each subclass to an HTTP
status in one place and the CLI prints it without a traceback. `DefinitionError` carries
every problem found in a definition file, each located by file, line, column and key path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class PerfloopError(Exception):
    """Root of perfloop's documented errors: a user or operator can act on the message."""


@dataclass(frozen=True, order=True)
class Problem:
    """One fault in a definition: where it is and what was expected."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class DefinitionError(PerfloopError):
    """A definition file failed to load; `problems` lists every fault found, in file order."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(
            sorted(problems, key=lambda p: (p.file, p.line or 0, p.column or 0, p.path))
        )
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid definition")
