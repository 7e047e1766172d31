"""A batch's summary: one row per run, printed and written to ``batch.json`` and ``batch.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence


def _cell(v: Any) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def format_summary(rows: Sequence[Dict[str, Any]], title: str = "") -> str:
    """A markdown table: name, status, seconds, error (and the counts of each status)."""
    counts = {s: sum(r["status"] == s for r in rows) for s in dict.fromkeys(r["status"] for r in rows)}
    lines = [f"# {title}", ""] if title else []
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items()) or "no runs")
    lines += ["", "| name | status | seconds | error |", "|---|---|---|---|"]
    lines += [
        f"| {_cell(r['name'])} | {r['status']} | {r['seconds']:.1f} | {_cell(r.get('error', ''))} |" for r in rows
    ]
    return "\n".join(lines) + "\n"


def write_summary(output_root: Path, rows: List[Dict[str, Any]], title: str) -> None:
    from ..utils import write_json, write_text

    write_json(output_root / "batch.json", rows)
    write_text(output_root / "batch.md", format_summary(rows, title))
