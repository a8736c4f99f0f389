"""The demo's report: sentences and small tables for the terminal, and an HTML page of charts
(matplotlib, rendered to PNG inside the page, so it opens anywhere without a network)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

from .figures import Figures, Latency


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))

    return ["   " + line(cells[0]), "   " + "  ".join("-" * w for w in widths), *["   " + line(r) for r in cells[1:]]]


def _latency_table(title: str, kind: str, latencies: Sequence[Latency]) -> list[str]:
    rows = [(r.label, f"{r.p50:.1f}", f"{r.p99:.1f}", len(r.samples_ms)) for r in latencies]
    return ["", title, *_table((kind, "p50 ms", "p99 ms", "calls"), rows)]


def _speedup(local: Latency, remote: Latency) -> str:
    return f"{remote.p50 / local.p50:,.0f} times" if local.p50 > 0 else "n/a"


def format_report(f: Figures) -> str:
    """What happened, in sentences a person reads once, with the figures that back them."""
    out = ["", "== What happened", ""]
    out.append(
        f"Contacts. The full sync stored {f.contacts_full_rows:,} contacts with {f.contacts_full_calls} GHL API "
        f"calls. After {f.crm_changes}, the incremental sync needed {f.contacts_incremental_calls} call(s): it asks "
        "only for contacts changed since its cursor, so 20 updates and a create fit in one page. The delete whose "
        f"webhook was lost was caught by the nightly reconciliation ({f.reconciled_deletes} soft-deleted), which "
        f"leaves {f.contacts:,} live contacts, as many as the CRM holds."
    )
    out.append("")
    out.append(
        f"Visitors. RB2B posted {f.visitors_sent} visitors; they became {f.visitor_people} people and "
        f"{f.visitor_companies} company-only profiles (repeat visits of a person on one day share a row). "
        f"{f.visitors_matched} were matched to contacts created after their visit, on the visitors' next run. "
        f"{f.visitors_quarantined} malformed deliveries were kept in the quarantine with their reasons, and "
        "RB2B still got its 200."
    )
    if len(f.enrichment_passes) == 2:
        first, second = f.enrichment_passes
        out += ["", "Enrichment through the cache:"]
        out += _table(
            ("pass", "paid lookups", "cache hits", "spent", "avoided", "hit rate"),
            [
                (
                    name,
                    int(p["paid_calls"]),
                    int(p["hits"]),
                    f"${p['spent_usd']:.2f}",
                    f"${p['avoided_usd']:.2f}",
                    f"{p['hit_rate']:.0%}",
                )
                for name, p in (("first", first), ("second", second))
            ],
        )
        out.append(
            f"   The second pass paid for nothing: every person was already cached for ENRICHMENT_TTL_DAYS, "
            f"so its {int(second['hits'])} answers cost ${second['avoided_usd']:.2f} less."
        )
    if f.reads:
        local, mcp, vendor = f.reads
        out += _latency_table("Agent reads of one contact:", "read", f.reads)
        out.append(
            f"   A local read answers {_speedup(local, vendor)} faster than asking GHL (p50), and through MCP "
            f"{_speedup(mcp, vendor)} faster: neither spends the CRM's rate limit."
        )
    if f.enqueues:
        enqueue, direct = f.enqueues
        out += _latency_table("Agent writes:", "write", f.enqueues)
        out.append(
            f"   Queueing an email answers {_speedup(enqueue, direct)} faster than sending it while the agent waits; "
            f"send_outbox then sent {f.outbox.get('sent', 0):,} in {f.drain_seconds:.0f} s under GHL's limit "
            f"(retried {f.outbox.get('retry', 0)}, dead {f.outbox.get('dead', 0)}, "
            f"unknown {f.outbox.get('unknown', 0)})."
        )
    avoided = sum(f.vendor_calls_avoided.values())
    out += [
        "",
        f"Vendor calls: {f.vendor_calls_made:,} made, {avoided:,} avoided "
        f"({', '.join(f'{n:,} {what}' for what, n in f.vendor_calls_avoided.items())}); "
        f"{f.rate_limited} answered 429.",
    ]
    out += ["", "== Every figure against the store's or the sandbox's own count", ""]
    out += _table(
        ("figure", "reported", "counted", "by", ""),
        [(c.what, c.reported, c.counted, c.counted_by, "ok" if c.ok else "MISMATCH") for c in f.checks],
    )
    return "\n".join(out)


def write_html(f: Figures, path: Path) -> None:
    """A self-contained page: one chart per claim, then the checks table."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to PNG
    charts = [
        ("Agent read latency: local vs the vendor (ms, log scale)", _latency_chart(f.reads)),
        ("Enqueue vs a synchronous send (ms, log scale)", _latency_chart(f.enqueues)),
        ("Vendor calls made vs avoided", _bars({"made": f.vendor_calls_made, **f.vendor_calls_avoided})),
        ("Enrichment dollars: spent vs avoided, per pass", _enrichment_chart(f)),
        (
            "Emails: sent, retried, dead, unknown; 429s met",
            _bars({**{k: f.outbox.get(k, 0) for k in ("sent", "retry", "dead", "unknown")}, "429s": f.rate_limited}),
        ),
    ]
    rows = "".join(
        f"<tr><td>{html.escape(c.what)}</td><td>{html.escape(str(c.reported))}</td>"
        f"<td>{html.escape(str(c.counted))}</td><td>{html.escape(c.counted_by)}</td>"
        f"<td>{'ok' if c.ok else '<b>MISMATCH</b>'}</td></tr>"
        for c in f.checks
    )
    figures = "".join(
        f'<h2>{html.escape(t)}</h2><img alt="{html.escape(t)}" src="data:image/png;base64,{png}">' for t, png in charts
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<!doctype html><meta charset=utf-8><title>sync_pipeline demo</title>"
        "<style>body{font-family:sans-serif;max-width:900px;margin:2em auto}img{max-width:100%}"
        "td,th{padding:2px 8px;text-align:left}</style><h1>sync_pipeline demo</h1>"
        f"<p>{'Every figure matches the store and the sandbox.' if f.ok else 'A figure disagrees: see the table.'}</p>"
        f"{figures}<h2>Checks</h2><table><tr><th>figure</th><th>reported</th><th>counted</th><th>by</th><th></th></tr>"
        f"{rows}</table>"
    )


def _png(fig: object) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return base64.b64encode(buffer.getvalue()).decode()


def _latency_chart(latencies: Sequence[Latency]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3))
    labels = [r.label for r in latencies]
    positions = range(len(labels))
    ax.barh([p - 0.2 for p in positions], [r.p50 for r in latencies], height=0.4, label="p50")
    ax.barh([p + 0.2 for p in positions], [r.p99 for r in latencies], height=0.4, label="p99")
    ax.set_yticks(list(positions), labels)
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds")
    ax.legend()
    return _png(fig)


def _bars(values: dict[str, float]) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3))
    bars = ax.bar(list(values), list(values.values()))
    ax.bar_label(bars)
    ax.tick_params(axis="x", labelrotation=10)
    return _png(fig)


def _enrichment_chart(f: Figures) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3))
    passes = [f"pass {i + 1}" for i in range(len(f.enrichment_passes))]
    spent = [p["spent_usd"] for p in f.enrichment_passes]
    avoided = [p["avoided_usd"] for p in f.enrichment_passes]
    positions = range(len(passes))
    ax.bar([p - 0.2 for p in positions], spent, width=0.4, label="spent ($)")
    ax.bar([p + 0.2 for p in positions], avoided, width=0.4, label="avoided ($)")
    ax.set_xticks(list(positions), passes)
    ax.legend()
    return _png(fig)
