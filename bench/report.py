"""What a benchmark reports, and the command line every benchmark shares.

Each ``bench/bench_*.py`` that ``make bench`` runs builds a :class:`Result`: tables comparing this
project with its baseline or peer measured in the same run, findings in sentences (where we lose,
and why), and one headline line. :func:`emit` prints the tables, then the headline as the very
last line (so a script can read it), and with ``--json PATH`` writes the result for
``bench/run_all.py`` to assemble ``BENCHMARKS.md``.

``--size tiny`` runs a benchmark in seconds so a smoke test keeps it from rotting; its figures mean
nothing. ``--size full`` is what ``make bench`` runs and what BENCHMARKS.md quotes.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

Size = Literal["tiny", "full"]
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Table:
    """One comparison: ``columns`` headings and ``rows`` of already formatted cells."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""

    def markdown(self) -> str:
        lines = [f"**{self.title}**", "", "| " + " | ".join(self.columns) + " |"]
        lines.append("|" + "---|" * len(self.columns))
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.note:
            lines += ["", self.note]
        return "\n".join(lines)


@dataclass
class Result:
    """A benchmark's outcome: ``name`` is its module's short name (``webhooks`` for bench_webhooks)."""

    name: str
    title: str
    command: str
    size: Size
    tables: list[Table]
    headline: str
    findings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @classmethod
    def from_json(cls, data: dict) -> Result:
        return cls(**{**data, "tables": [Table(**t) for t in data["tables"]]})


def parser(description: str) -> argparse.ArgumentParser:
    """The arguments every benchmark takes; a benchmark adds its own after."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--size", choices=("tiny", "full"), default="full", help="tiny: a smoke run in seconds")
    p.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL database to make scratch schemas in")
    p.add_argument("--json", type=Path, help="also write the result here, for bench/run_all.py")
    return p


def command_line() -> str:
    """How this benchmark was started, for BENCHMARKS.md (without ``--json``)."""
    args = sys.argv[1:]
    if "--json" in args:
        i = args.index("--json")
        del args[i : i + 2]
    module = Path(sys.argv[0]).stem
    return shlex.join([".venv/bin/python", "-m", f"bench.{module}", *args])


def emit(result: Result, json_path: Path | None) -> None:
    """Print ``result`` (tables, findings, then the headline as the last line); write it as JSON."""
    for table in result.tables:
        print()
        print(table.markdown())
    for finding in result.findings:
        print(f"- {finding}")
    if json_path is not None:
        json_path.write_text(json.dumps(asdict(result), indent=2))
    print(result.headline, flush=True)


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) of ``samples``, nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    """A duration in milliseconds, to a precision a reader needs."""
    value = seconds * 1000
    return f"{value:.2f} ms" if value < 10 else f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"


def goal_findings(verdicts: list[tuple[str, str, str, bool]], why: Callable[[str, str], str]) -> list[str]:
    """Issue #13's read goals as findings: one line with every verdict, then why each missed one missed.

    ``verdicts`` are ``(store, situation, text, met)``; ``why(store, situation)`` is asked only for misses.
    """
    out = [
        "Issue #13 goals, p99 of the slower of the two reads: "
        + "; ".join(f"{text}: {'met' if ok else 'MISSED'}" for _, _, text, ok in verdicts)
        + "."
    ]
    out += [f"Missed: {text}. Why: {why(store, situation)}." for store, situation, text, ok in verdicts if not ok]
    return out
