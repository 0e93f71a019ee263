"""Valid cycle definition files for tests that need real YAML.

The smallest stock cycle (`definitions/cycles/<name>/v<N>.yaml`) is used when one exists,
so these tests follow the language as it grows; its name, version and title are rewritten
to what the test asks for. Before any stock cycle exists, a minimal one-phase cycle is used.
"""

from __future__ import annotations

from functools import cache
from io import StringIO
from pathlib import Path

from ruamel.yaml import YAML

import definitions

STOCK_CYCLES = Path(definitions.__file__).resolve().parent / "cycles"

MINIMAL = """\
apiVersion: perfloop.io/v1
kind: Cycle
metadata:
  name: tiny-review
  version: 1
  title: Tiny review
  owner: People Ops
calendar:
  start: 2027-01-04
  length: P1Y
phases:
  - id: results
    kind: results
    window: {opens: P300D, due: P330D}
"""


def stock_cycle_files() -> list[Path]:
    return sorted(STOCK_CYCLES.glob("*/v*.yaml"))


@cache
def _template() -> str:
    """The smallest stock cycle (loading is proportional to size), or the minimal one."""
    stock = stock_cycle_files()
    if not stock:
        return MINIMAL
    return min(stock, key=lambda p: p.stat().st_size).read_text(encoding="utf-8")


def cycle_yaml(name: str = "tiny-review", version: int = 1, title: str = "Tiny review") -> str:
    """The text of a valid definition named `name@version` with the given title."""
    yaml = YAML(typ="rt", pure=True)
    document = yaml.load(_template())
    document["metadata"]["name"] = name
    document["metadata"]["version"] = version
    document["metadata"]["title"] = title
    buffer = StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()


def write_cycle(
    root: Path, name: str = "tiny-review", version: int = 1, title: str = "Tiny review"
) -> Path:
    """Write `root/cycles/<name>/v<version>.yaml` (the layout the loader checks) and
    return its path."""
    path = root / "cycles" / name / f"v{version}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cycle_yaml(name, version, title), encoding="utf-8")
    return path
