"""The `sync-pipeline` command: demo, sandbox, store, webhooks, MCP, contacts and outbox."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from .settings import Settings, SettingsError, env_name, get_settings
from .status import collect_status, format_status, needs_a_person
from .store import Store, StoreError, ensure_migrated, migrate, open_store
from .store.outbox import JobStatus


class UsageError(Exception):
    """The command line itself is wrong (a flag, a pair of flags, a file it names); the message names the flag."""


# The sandbox settings that `sync-pipeline sandbox` takes as flags, so its errors name the flag.
_SANDBOX_FLAGS = {
    "vendors": "--vendors",
    "contacts": "--contacts",
    "latency.min_ms": "--latency-min-ms",
    "latency.max_ms": "--latency-max-ms",
    "faults.error_rate": "--error-rate",
    "faults.drop_rate": "--drop-rate",
    "faults.timeout_rate": "--timeout-rate",
    "urls_file": "--urls-file",
}

# Receiver routes that refuse every delivery (401) while their token setting is empty.
_TOKEN_ROUTES = {"/webhooks/rb2b": "rb2b_webhook_token", "/webhooks/instantly": "instantly_webhook_token"}


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(
        contacts=args.contacts,
        emails=args.emails,
        visitors=args.visitors,
        html=args.html,
        latency_ms=(args.latency_min_ms, args.latency_max_ms),
    )


def _dev(args: argparse.Namespace) -> int:
    from .dev import run_dev

    return run_dev(
        ui_port=args.ui_port,
        serve_port=args.serve_port,
        contacts=args.contacts,
        seed=args.seed,
        visitors_every_s=args.visitors_every,
    )


def _migrate(args: argparse.Namespace) -> int:
    store = open_store()
    applied = migrate(store)
    names = ", ".join(f"{m.version:03d}_{m.name}" for m in applied)
    print(f"{store.dialect}: applied {len(applied)} migration(s)" + (f": {names}" if applied else " (up to date)"))
    return 0


def _status(args: argparse.Namespace) -> int:
    from .defs.asset_status import asset_status, local_instance

    status = collect_status(ensure_migrated(open_store()), get_settings())
    instance = local_instance()
    if instance is not None:
        status["assets"] = asset_status(instance)
    problems = needs_a_person(status)
    if args.json:
        _print_json({**status, "needs_a_person": problems})
    else:
        print(format_status(status))
    return 1 if problems else 0


def _sandbox(args: argparse.Namespace) -> int:
    from .sandbox import FaultConfig, LatencyConfig, SandboxConfig, SandboxConfigError
    from .sandbox.launcher import run_with_sandbox, serve_sandbox

    try:
        config = SandboxConfig(
            latency=LatencyConfig(args.latency_min_ms, args.latency_max_ms),
            faults=FaultConfig(error_rate=args.error_rate, drop_rate=args.drop_rate, timeout_rate=args.timeout_rate),
        )
        options = {"urls_file": args.urls_file, "contacts": args.contacts, "seed": args.seed, "config": config}
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if command:
            return run_with_sandbox(args.vendors.split(","), command, **options)
        serve_sandbox(args.vendors.split(","), **options)
    except SandboxConfigError as exc:
        flag = _SANDBOX_FLAGS.get(exc.setting or "")
        raise UsageError(f"{flag} {exc.problem}" if flag else str(exc)) from None
    return 0


def disabled_webhook_routes(settings: Settings) -> list[str]:
    """One line per receiver route that answers 401 to every delivery because its token is not set."""
    return [
        f"{route} disabled: {env_name(setting)} is not set (every delivery gets 401)"
        for route, setting in _TOKEN_ROUTES.items()
        if not getattr(settings, setting)
    ]


def _hosted(store: Store) -> Store:
    """A long-running server hosts an embedded store's file, so other processes' transactions stop
    taking turns at opening it (agent reads behind a sync: p99 1.4 s -> see the README)."""
    try:
        if store.host():
            print(f"hosting the store {store.url} for other processes", file=sys.stderr)
    except (StoreError, OSError) as exc:  # serving matters more: the others keep taking turns
        print(f"not hosting the store (other processes take turns at the file): {exc}", file=sys.stderr)
    return store


def _webhooks_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .webhooks.app import build_app

    settings = get_settings()
    app = build_app(_hosted(ensure_migrated(open_store(settings))), settings)
    for line in disabled_webhook_routes(settings):
        print(line, file=sys.stderr)
    # No access line per delivery: at 1,000 deliveries/s writing it took half the receiver's CPU.
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False)
    return 0


def _mcp(args: argparse.Namespace) -> int:
    from .agent.mcp_server import build_server

    settings = get_settings()
    # Opened (and migrated) before the first message, so a bad SYNC_PIPELINE_DB is one line here.
    build_server(settings, store=ensure_migrated(open_store(settings))).run("stdio")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .serve import build_serve_app, check_bind

    settings = get_settings()
    check_bind(args.host, settings)
    app = build_serve_app(_hosted(ensure_migrated(open_store(settings))), settings, host=args.host)
    for line in disabled_webhook_routes(settings):
        print(line, file=sys.stderr)
    auth = "bearer token required" if settings.mcp_token else "no token: loopback only"
    print(f"MCP at http://{args.host}:{args.port}/mcp ({auth})", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", access_log=False)  # as `webhooks serve`
    return 0


def _contacts_get(args: argparse.Namespace) -> int:
    from .agent import get_contact

    contact = get_contact(args.id)
    if contact is None:
        print(f"no live contact with id {args.id!r}", file=sys.stderr)
        return 1
    _print_json(contact)
    return 0


def _contacts_find(args: argparse.Namespace) -> int:
    from .agent import find_contacts

    query = None if "@" in args.query else args.query
    email = args.query if "@" in args.query else None
    _print_json(find_contacts(email=email, query=query, tag=args.tag, limit=args.limit))
    return 0


def _enrich(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from .agent import enrich

    target = {"email": args.target} if "@" in args.target else {"domain": args.target}
    max_age = None if args.max_age_days is None else timedelta(days=args.max_age_days)
    _print_json(enrich(**target, max_age=max_age, wait=not args.no_wait))
    return 0


def _outbox_enqueue(args: argparse.Namespace) -> int:
    from .agent import enqueue_email, get_contact

    # argparse makes exactly one of --to/--contact-id and of --html/--html-file present; the API's own
    # errors for what it cannot know name its arguments (to=), so the CLI checks the contact first.
    if args.contact_id is not None:
        contact = get_contact(args.contact_id)
        if contact is not None and not contact["email"]:
            raise UsageError(
                f"contact {args.contact_id} has no email address; pass --to ADDRESS instead of --contact-id"
            )
    job_id = enqueue_email(
        args.to, args.subject, _html_body(args), contact_id=args.contact_id, idempotency_key=args.idempotency_key
    )
    print(job_id)
    return 0


def _html_body(args: argparse.Namespace) -> str:
    if args.html_file is None:
        return str(args.html)
    try:
        return Path(args.html_file).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--html-file {args.html_file}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise UsageError(f"--html-file {args.html_file}: not UTF-8 text") from None


def _outbox_list(args: argparse.Namespace) -> int:
    from .store import outbox as outbox_q

    with ensure_migrated(open_store()).transaction() as tx:
        rows = outbox_q.list_jobs(tx, status=args.status, limit=args.limit)
    for r in rows:
        error = f"  {r['last_error']}" if r["last_error"] else ""
        print(f"{r['id']}  {r['status']:<8} {r['action']:<15} {r['provider']:<10} attempts={r['attempts']}{error}")
    return 0


def _outbox_retry_dead(args: argparse.Namespace) -> int:
    from .store import outbox as outbox_q

    with ensure_migrated(open_store()).transaction() as tx:
        n = outbox_q.requeue_dead(tx, datetime.now(UTC), args.ids or None)
    print(f"requeued {n} dead job(s)")
    return 0


def _outbox_drain(args: argparse.Namespace) -> int:
    from .outbox.run import drain_configured

    report = drain_configured(ensure_migrated(open_store()), get_settings())
    _print_json(report.as_metadata())
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with the one-line error the README promises; the usage stays in ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sync-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="the whole story against sandbox vendors at realistic latency, with a report and charts"
    )
    demo.add_argument("--contacts", type=int, default=1000, help="contacts seeded in the GHL sandbox")
    demo.add_argument("--emails", type=int, default=300, help="emails agents queue and send_outbox drains")
    demo.add_argument("--visitors", type=int, default=40, help="visitors RB2B posts to the receiver")
    demo.add_argument("--html", type=Path, help="where the charts page goes (default .sync_pipeline/demo.html)")
    demo.add_argument("--latency-min-ms", type=float, default=300.0, help="fastest sandbox answer")
    demo.add_argument("--latency-max-ms", type=float, default=800.0, help="slowest sandbox answer")
    demo.set_defaults(run=_demo)

    dev = commands.add_parser(
        "dev",
        help="the Dagster UI on live sandbox vendors with the receiver and MCP server (what `make dev` runs)",
    )
    dev.add_argument("--ui-port", type=int, default=3000, help="port of the Dagster UI on 127.0.0.1")
    dev.add_argument("--serve-port", type=int, default=8787, help="port of the receiver and MCP server")
    dev.add_argument("--contacts", type=int, default=2000, help="contacts seeded in the GHL sandbox")
    dev.add_argument("--seed", type=int, default=1, help="sandbox seed (the same seed, the same data)")
    dev.add_argument("--visitors-every", type=float, default=20.0, help="seconds between RB2B visitor bursts")
    dev.set_defaults(run=_dev)

    commands.add_parser("migrate", help="apply pending SQL migrations to SYNC_PIPELINE_DB").set_defaults(run=_migrate)
    status = commands.add_parser(
        "status",
        help="what the local store holds and what needs a person (exit 1 when something does)",
        description="Assets (from the Dagster instance under DAGSTER_HOME, else .sync_pipeline/dagster), contacts "
        "per account, outbox depth and blocked writes, vendor calls and 429s, quarantined webhooks. Exits 1 when "
        "something needs a person: a stale asset, dead or unknown jobs, blocked writes, a growing quarantine.",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=_status)

    sandbox = commands.add_parser("sandbox", help="serve the vendor sandboxes on loopback until Ctrl-C")
    sandbox.add_argument("--vendors", default="ghl", help="comma-separated vendors to serve")
    sandbox.add_argument("--contacts", type=int, default=10_000, help="contacts seeded in each CRM sandbox")
    sandbox.add_argument("--seed", type=int, default=1, help="seed for the generated data and the injected faults")
    sandbox.add_argument("--latency-min-ms", type=float, default=0.0, help="least latency added to each request")
    sandbox.add_argument("--latency-max-ms", type=float, default=0.0, help="most latency added to each request")
    sandbox.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered 5xx")
    sandbox.add_argument("--drop-rate", type=float, default=0.0, help="share of connections dropped")
    sandbox.add_argument("--timeout-rate", type=float, default=0.0, help="share of requests left hanging")
    sandbox.add_argument("--urls-file", type=Path, help="write base URLs, account ids and keys as JSON")
    sandbox.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        help="after --: run this command with the sandbox's environment, stop the sandbox when it exits",
    )
    sandbox.set_defaults(run=_sandbox)

    webhooks = commands.add_parser("webhooks", help="the webhook receiver").add_subparsers(dest="sub", required=True)
    serve = webhooks.add_parser("serve", help="serve /webhooks/* and /healthz")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8787, help="port to listen on")
    serve.set_defaults(run=_webhooks_serve)

    commands.add_parser(
        "mcp", help="serve the MCP tools over stdio (for an MCP client that starts this command)"
    ).set_defaults(run=_mcp)
    serve_all = commands.add_parser(
        "serve", help="one process for the webhook receiver and the MCP server over streamable HTTP at /mcp"
    )
    serve_all.add_argument(
        "--host", default="127.0.0.1", help="address to listen on; beyond loopback MCP_TOKEN must be set"
    )
    serve_all.add_argument("--port", type=int, default=8787, help="port to listen on")
    serve_all.set_defaults(run=_serve)

    contacts = commands.add_parser("contacts", help="read contacts from the local store").add_subparsers(
        dest="sub", required=True
    )
    get = contacts.add_parser("get", help="one contact by CRM id")
    get.add_argument("id", help="the contact's id in the CRM")
    get.set_defaults(run=_contacts_get)
    find = contacts.add_parser("find", help="contacts by email (exact) or text in name/email/company")
    find.add_argument("query", help="an email address (exact match) or text")
    find.add_argument("--tag", help="only contacts with this tag")
    find.add_argument("--limit", type=int, default=20, help="most contacts listed")
    find.set_defaults(run=_contacts_find)

    enrich = commands.add_parser("enrich", help="enrich a person or company, cache first; prints the answer")
    enrich.add_argument("target", metavar="EMAIL", help="an email address, or a company domain (acme.com)")
    enrich.add_argument("--max-age-days", type=float, help="ask again when the cached answer is older than this")
    enrich.add_argument("--no-wait", action="store_true", help="answer 'pending' at once on a miss")
    enrich.set_defaults(run=_enrich)

    outbox = commands.add_parser("outbox", help="queued vendor writes").add_subparsers(dest="sub", required=True)
    enqueue = outbox.add_parser("enqueue", help="queue one email; prints the job id")
    recipient = enqueue.add_mutually_exclusive_group(required=True)
    recipient.add_argument("--to", help="recipient email address")
    recipient.add_argument("--contact-id", help="a synced contact's CRM id; the email goes to its address")
    enqueue.add_argument("--subject", required=True, help="subject line")
    body = enqueue.add_mutually_exclusive_group(required=True)
    body.add_argument("--html", help="HTML body")
    body.add_argument("--html-file", help="file holding the HTML body (UTF-8)")
    enqueue.add_argument("--idempotency-key", help="a repeat with the same key queues nothing new")
    enqueue.set_defaults(run=_outbox_enqueue)
    listing = outbox.add_parser("list", help="recent jobs")
    listing.add_argument("--status", choices=[s.value for s in JobStatus], help="only jobs in this state")
    listing.add_argument("--limit", type=int, default=20, help="most jobs listed")
    listing.set_defaults(run=_outbox_list)
    retry = outbox.add_parser("retry-dead", help="requeue dead jobs (all, or the given ids)")
    retry.add_argument("ids", nargs="*", help="job ids to requeue (default: every dead job)")
    retry.set_defaults(run=_outbox_retry_dead)
    outbox.add_parser("drain", help="send due jobs now, in this process").set_defaults(run=_outbox_drain)
    return parser


def _user_errors() -> tuple[type[Exception], ...]:
    """Every error that means the input or the environment needs fixing, not the code: one line, exit 2."""
    from .agent.errors import InvalidRequest
    from .enrichment.errors import EnrichmentError
    from .errors import VendorError

    return (UsageError, SettingsError, StoreError, InvalidRequest, VendorError, EnrichmentError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; user errors print one clear line and exit 2 instead of a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except _user_errors() as exc:
        print(f"sync-pipeline: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
