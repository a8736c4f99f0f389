"""`make bench` must not rot: every benchmark runs at ``--size tiny`` and the page gets written.

The figures of a tiny run mean nothing; what is checked is that each benchmark (peers included)
runs to the end, prints its headline as its last line, leaves no scratch schema or directory
behind, and that ``bench/run_all.py`` assembles every section into the page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg2
import pytest

from bench.run_all import BENCHMARKS, EXTRA
from sync_pipeline_tests.conftest import require_postgres

ROOT = Path(__file__).resolve().parents[1]
HAS_WRK = shutil.which("wrk") is not None


def _bench_schemas(pg: str) -> set[str]:
    with psycopg2.connect(pg) as conn, conn.cursor() as cur:
        cur.execute(r"SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench\_%'")
        return {row[0] for row in cur.fetchall()}


def _scratch_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("sync_pipeline_bench_*")}


@pytest.mark.timeout(600)
def test_every_benchmark_runs_at_tiny_size_and_writes_its_section(tmp_path: Path) -> None:
    names = [n for n in BENCHMARKS + EXTRA if HAS_WRK or n not in ("webhooks", "under_load")]
    page = tmp_path / "BENCHMARKS.md"
    base = require_postgres()
    dirs_before = _scratch_dirs()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run_all",
            "--size",
            "tiny",
            "--only",
            ",".join(names),
            "--pg",
            base,
            "--out",
            str(page),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=580,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    text = page.read_text()
    out = run.stdout.splitlines()
    for name in names:
        assert f'<a id="{name}"></a>' in text
        headline = next(
            line.split("Headline: ", 1)[1]
            for line in text.split(f'<a id="{name}"></a>')[1].splitlines()
            if line.startswith("Headline: ")
        )
        # The benchmark's own last line is its headline (the next section's banner follows it).
        start = out.index(f"=== {name} (tiny) ===")
        end = next((i for i in range(start + 1, len(out)) if out[i].startswith(("=== ", "wrote "))), len(out))
        assert [line for line in out[start:end] if line.strip()][-1] == headline
    assert "FAILED" not in text
    assert _bench_schemas(base) == set(), "a benchmark left a scratch schema behind"
    assert _scratch_dirs() <= dirs_before, "a benchmark left a scratch directory behind"


@pytest.mark.skipif(HAS_WRK, reason="wrk is installed: the webhooks benchmark ran with the others")
def test_the_webhooks_benchmark_names_wrk_when_it_is_missing() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.bench_webhooks", "--size", "tiny"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "apt-get install -y wrk" in run.stderr
