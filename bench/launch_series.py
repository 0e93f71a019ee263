"""Launch cost as the organisation grows: `bench/launch.py` at several sizes, a table and a plot.

    .venv/bin/python bench/launch_series.py                       # 1,000 3,000 10,000 on PostgreSQL
    .venv/bin/python bench/launch_series.py --sizes 200,1000 --database-url sqlite

Each size runs each side in a fresh process (`launch.py --side bare`, then
`--side perfloop`), so that each side's worker memory per open workflow is its own. It
writes `bench/results/launch-<store>.csv` (one row per size) and `launch-<store>.svg`
(time to every first task against N for both sides, and their ratio), and prints the
table in Markdown for bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
COLUMNS = (
    "n",
    "bare_seconds",
    "perfloop_seconds",
    "ratio",
    "bare_worker_cpu_ms",
    "bare_server_cpu_ms",
    "perfloop_worker_cpu_ms",
    "perfloop_server_cpu_ms",
    "bare_kib_per_workflow",
    "perfloop_kib_per_workflow",
    "cached",
)


def run_side(n: int, side: str, database_url: str | None) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, str(HERE / "launch.py"), "-n", str(n), "--side", side]
        command += ["--json", out.name]
        if database_url:
            command += ["--database-url", database_url]
        print(f"$ {' '.join(command[1:])}", flush=True)
        subprocess.run(command, check=True)
        record: dict[str, Any] = json.loads(Path(out.name).read_text())
    return record


def row(n: int, bare: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    b, p = bare["sides"]["bare"], ours["sides"]["perfloop"]
    return {
        "n": n,
        "bare_seconds": b["seconds"],
        "perfloop_seconds": p["seconds"],
        "ratio": round(p["seconds"] / b["seconds"], 2),
        "bare_worker_cpu_ms": b["worker_cpu_ms"],
        "bare_server_cpu_ms": b["server_cpu_ms"],
        "perfloop_worker_cpu_ms": p["worker_cpu_ms"],
        "perfloop_server_cpu_ms": p["server_cpu_ms"],
        "bare_kib_per_workflow": b["kib_per_cached_workflow"],
        "perfloop_kib_per_workflow": p["kib_per_cached_workflow"],
        "cached": ours["cached"],
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| N | bare Temporal | perfloop | ratio | CPU bare (worker / server) "
        "| CPU perfloop | memory per open workflow (bare / perfloop) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['bare_seconds']:.1f} s | {r['perfloop_seconds']:.1f} s "
            f"| **{r['ratio']:.2f}** | {r['bare_worker_cpu_ms']} / {r['bare_server_cpu_ms']} ms "
            f"| {r['perfloop_worker_cpu_ms']} / {r['perfloop_server_cpu_ms']} ms "
            f"| {r['bare_kib_per_workflow']} / {r['perfloop_kib_per_workflow']} KiB |"
        )
    return "\n".join(lines)


def svg(rows: list[dict[str, Any]], title: str) -> str:
    """A small line chart: seconds against N for both sides, the ratio on the right axis."""
    width, height, left, right, top, bottom = 640, 360, 60, 60, 40, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    max_n = float(max(r["n"] for r in rows))
    max_s = float(max(max(r["bare_seconds"], r["perfloop_seconds"]) for r in rows)) * 1.1
    max_ratio = max(2.0, float(max(r["ratio"] for r in rows)) * 1.1)

    def x(n: float) -> float:
        return left + plot_w * n / max_n

    def y(seconds: float) -> float:
        return top + plot_h * (1 - seconds / max_s)

    def y_ratio(ratio: float) -> float:
        return top + plot_h * (1 - ratio / max_ratio)

    def line(points: list[tuple[float, float]], colour: str, dash: str = "") -> str:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        dots = "".join(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>' for px, py in points
        )
        return (
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dashed}/>'
            + dots
        )

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>',
        f'<line x1="{left + plot_w}" y1="{top}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#999"/>',
        f'<text x="{left + plot_w / 2}" y="{height - 12}" text-anchor="middle">'
        "participants (N)</text>",
        f'<text x="14" y="{top + plot_h / 2}" transform="rotate(-90 14 {top + plot_h / 2})" '
        'text-anchor="middle">seconds to every first task</text>',
        f'<text x="{width - 14}" y="{top + plot_h / 2}" '
        f'transform="rotate(90 {width - 14} {top + plot_h / 2})" text-anchor="middle" '
        'fill="#999">ratio</text>',
        f'<line x1="{left}" y1="{y_ratio(1.3):.1f}" x2="{left + plot_w}" '
        f'y2="{y_ratio(1.3):.1f}" stroke="#999" stroke-dasharray="2 4"/>',
        f'<text x="{left + plot_w - 4}" y="{y_ratio(1.3) - 4:.1f}" text-anchor="end" '
        'fill="#999">ratio target 1.3</text>',
    ]
    for r in rows:
        parts.append(
            f'<text x="{x(r["n"]):.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
            f"{r['n']:,}</text>"
        )
    for tick in range(5):
        seconds = max_s * tick / 4
        parts.append(
            f'<text x="{left - 6}" y="{y(seconds) + 4:.1f}" text-anchor="end">{seconds:.0f}</text>'
        )
        ratio = max_ratio * tick / 4
        parts.append(
            f'<text x="{left + plot_w + 6}" y="{y_ratio(ratio) + 4:.1f}" fill="#999">'
            f"{ratio:.1f}</text>"
        )
    parts.append(line([(x(r["n"]), y(r["bare_seconds"])) for r in rows], "#1f77b4"))
    parts.append(line([(x(r["n"]), y(r["perfloop_seconds"])) for r in rows], "#d62728"))
    parts.append(line([(x(r["n"]), y_ratio(r["ratio"])) for r in rows], "#999", "6 4"))
    legend = (("bare Temporal", "#1f77b4"), ("perfloop", "#d62728"), ("ratio", "#999"))
    for index, (name, colour) in enumerate(legend):
        ly = top + 10 + index * 16
        parts.append(
            f'<line x1="{left + 10}" y1="{ly}" x2="{left + 30}" y2="{ly}" stroke="{colour}" '
            'stroke-width="2"/>'
        )
        parts.append(f'<text x="{left + 36}" y="{ly + 4}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,3000,10000", help="comma-separated N")
    parser.add_argument(
        "--database-url",
        default=DEFAULT_PG,
        help="a PostgreSQL server (fresh databases are made on it) or 'sqlite'",
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    database_url = None if args.database_url == "sqlite" else args.database_url
    store = "sqlite" if database_url is None else "postgresql"
    rows = []
    for n in sizes:
        bare = run_side(n, "bare", database_url)
        ours = run_side(n, "perfloop", database_url)
        rows.append(row(n, bare, ours))
        print(markdown(rows), flush=True)
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / f"launch-{store}.csv").open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (RESULTS / f"launch-{store}.svg").write_text(
        svg(rows, f"Cycle launch on {store}: time to every first task")
    )
    print(f"wrote {RESULTS / f'launch-{store}.csv'} and launch-{store}.svg")
    print(markdown(rows))


if __name__ == "__main__":
    main()
