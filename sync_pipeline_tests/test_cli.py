"""`sync-pipeline` on bad input: exit 2 and one line on stderr saying what to fix, never a traceback."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sync_pipeline import cli
from sync_pipeline.agent.errors import InvalidRequest, UnknownContact
from sync_pipeline.errors import AuthError, VendorError
from sync_pipeline.records import Contact
from sync_pipeline.settings import Settings, SettingsError, get_settings
from sync_pipeline.store import MigrationError, StoreBusy, StoreConfigError, StoreError, shared_store
from sync_pipeline.store import contacts as contacts_q

# Paths a DuckDB file cannot live at: no such directory under /proc, a file where a directory
# should be, a directory nobody may write to.
UNUSABLE_DB_URLS = ["duckdb:///proc/nope/x.duckdb", "duckdb:////etc/passwd/x.duckdb", "duckdb:///sys/x.duckdb"]


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """SYNC_PIPELINE_DB pointing at an empty DuckDB file for the in-process command."""
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    monkeypatch.setenv("SYNC_PIPELINE_DB", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def run(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """Run the command in this process; its exit code and stderr lines (argparse exits by SystemExit)."""
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err.splitlines()


def assert_one_line_error(code: int, err: list[str], *needles: str) -> None:
    assert code == 2
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    for needle in needles:
        assert needle in err[0], err[0]


def test_an_unreadable_html_file_is_named(cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for path in (tmp_path / "missing.html", tmp_path):
        code, err = run(
            ["outbox", "enqueue", "--to", "a@b.example", "--subject", "s", "--html-file", str(path)], capsys
        )
        assert_one_line_error(code, err, "--html-file", str(path))


@pytest.mark.parametrize("url", UNUSABLE_DB_URLS)
def test_an_unusable_duckdb_path_names_the_setting(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNC_PIPELINE_DB", url)
    get_settings.cache_clear()
    try:
        code, err = run(["migrate"], capsys)
    finally:
        get_settings.cache_clear()
    assert_one_line_error(code, err, "SYNC_PIPELINE_DB", url.removeprefix("duckdb:///").lstrip("/"))


def test_the_console_script_reports_an_unusable_duckdb_path_in_one_line() -> None:
    script = Path(sys.executable).with_name("sync-pipeline")
    env = {**os.environ, "SYNC_PIPELINE_DB": UNUSABLE_DB_URLS[1]}
    result = subprocess.run([str(script), "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert_one_line_error(result.returncode, result.stderr.splitlines(), "SYNC_PIPELINE_DB")


def test_a_directory_is_not_a_duckdb_file(tmp_path: Path) -> None:
    from sync_pipeline.store import connect

    with pytest.raises(StoreConfigError, match="is a directory"):
        connect(f"duckdb:///{tmp_path}")


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--contacts", "-5"], "--contacts must be >= 0"),
        (["--vendors", "nope"], "--vendors names unknown vendor(s) 'nope'"),
        (["--error-rate", "2"], "--error-rate must be between 0 and 1"),
        (["--drop-rate", "-0.1"], "--drop-rate must be between 0 and 1"),
        (["--latency-min-ms", "500", "--latency-max-ms", "10"], "--latency-max-ms must be >= the minimum latency"),
        (["--latency-min-ms", "-1", "--latency-max-ms", "10"], "--latency-min-ms must be >= 0"),
        (["--contacts", "many"], "argument --contacts: invalid int value"),
    ],
)
def test_bad_sandbox_flags_are_named(flags: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run(["sandbox", *flags, "--", "true"], capsys)
    assert_one_line_error(code, err, needle)


def test_an_unwritable_urls_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, err = run(["sandbox", "--contacts", "5", "--urls-file", str(blocker / "urls.json")], capsys)
    assert_one_line_error(code, err, "--urls-file cannot be written")


@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (["--to", "a@b.example", "--contact-id", "c1", "--html", "x"], ("--contact-id", "--to", "not allowed")),
        (["--html", "x"], ("--to", "--contact-id", "required")),
        (["--to", "a@b.example", "--html", "x", "--html-file", "f.html"], ("--html-file", "--html", "not allowed")),
        (["--to", "a@b.example"], ("--html", "--html-file", "required")),
    ],
)
def test_enqueue_takes_exactly_one_recipient_and_one_body(
    cli_db: str, flags: list[str], needles: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(["outbox", "enqueue", "--subject", "s", *flags], capsys)
    assert_one_line_error(code, err, *needles)


def test_enqueue_to_a_contact_without_email_names_the_flags(cli_db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["migrate"], capsys)[0] == 0
    now = datetime.now(UTC)
    with shared_store(cli_db).transaction() as tx:
        contacts_q.upsert_contacts(
            tx,
            [
                Contact(id="c1", provider="ghl", email="ann@acme.example", date_updated=now),
                Contact(id="c2", provider="ghl", email=None, date_updated=now),
            ],
            now,
        )

    code, err = run(["outbox", "enqueue", "--contact-id", "c2", "--subject", "s", "--html", "x"], capsys)
    assert_one_line_error(code, err, "has no email address", "--to", "--contact-id")
    assert "to=" not in err[0]

    assert run(["outbox", "enqueue", "--contact-id", "c1", "--subject", "s", "--html", "x"], capsys)[0] == 0


@pytest.mark.parametrize(
    "error",
    [
        cli.UsageError("--flag is wrong"),
        SettingsError("GHL_API_KEY is not set"),
        StoreError("store broke"),
        StoreConfigError("SYNC_PIPELINE_DB is wrong"),
        StoreBusy("store busy"),
        MigrationError("migration edited"),
        InvalidRequest("subject is empty"),
        UnknownContact("no live contact"),
        VendorError("ghl", "failed"),
        AuthError("ghl", "key rejected", status=401),
    ],
    ids=lambda error: type(error).__name__,
)
def test_every_user_facing_error_is_one_line_and_exit_2(
    error: Exception, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(args: argparse.Namespace) -> int:
        raise error

    monkeypatch.setattr(cli, "_migrate", fail)
    code, err = run(["migrate"], capsys)
    assert_one_line_error(code, err, str(error))


def test_every_option_has_help() -> None:
    def parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from parsers(sub)

    missing = [
        f"{parser.prog} {action.option_strings or action.dest}"
        for parser in parsers(cli.build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction) and not action.help
    ]
    assert missing == []


def test_webhook_routes_without_a_token_are_reported_at_start() -> None:
    assert cli.disabled_webhook_routes(Settings.from_env({})) == [
        "/webhooks/rb2b disabled: RB2B_WEBHOOK_TOKEN is not set (every delivery gets 401)",
        "/webhooks/instantly disabled: INSTANTLY_WEBHOOK_TOKEN is not set (every delivery gets 401)",
    ]
    only_rb2b = Settings.from_env({"RB2B_WEBHOOK_TOKEN": "t"})
    assert [line.split()[0] for line in cli.disabled_webhook_routes(only_rb2b)] == ["/webhooks/instantly"]
    both = Settings.from_env({"RB2B_WEBHOOK_TOKEN": "t", "INSTANTLY_WEBHOOK_TOKEN": "u"})
    assert cli.disabled_webhook_routes(both) == []
