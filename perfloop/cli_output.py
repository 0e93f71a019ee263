"""Terminal output shared by every `perfloop` command.

Consoles are built per call rather than at import so that they follow whatever
`sys.stdout` is at the time (the test runner swaps it) and detect colour correctly.
User-supplied text is never parsed as Rich markup: a `[` in a message stays a `[`.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text


def stdout() -> Console:
    """The console for a command's product (what a user might pipe into a file)."""
    return Console(highlight=False, soft_wrap=True)


def stderr() -> Console:
    """The console for errors and progress notes."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def ok(message: str) -> None:
    """A success line: `✓ message`."""
    stdout().print(Text.assemble(("✓ ", "bold green"), message))


def fail(message: str) -> None:
    """A failure line on stdout, where it belongs with the product (e.g. validation)."""
    stdout().print(Text.assemble(("✗ ", "bold red"), message))


def error(message: str) -> None:
    """An error on stderr: `error: message`, one or more lines, no traceback."""
    stderr().print(Text.assemble(("error: ", "bold red"), message))


def note(message: str) -> None:
    """A side remark on stderr (what was migrated, where), out of the product's way."""
    stderr().print(Text(message, style="dim"))
