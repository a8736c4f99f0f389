"""InstantlyEmail over real HTTP against the Instantly sandbox: the lead/reply send mapping, lookup by
the stored key after a lost answer, and the transport's error mapping."""

from __future__ import annotations

import json

import pytest

from sync_pipeline.errors import AuthError, PermanentVendorError, TransientVendorError
from sync_pipeline.providers.email_keys import key_marker
from sync_pipeline.providers.instantly import InstantlyEmail
from sync_pipeline.records import OutboundEmail
from sync_pipeline.sandbox.instantly.sandbox import InstantlySandbox
from sync_pipeline_tests.instantly_clay_pdl_rb2b_fixtures import OutreachSandbox


def outbound(key: str = "job-1", to: str = "ada.lovelace@acme.com", **kwargs: str) -> OutboundEmail:
    fields = {"subject": "Quick question", "html": "<p>Hi Ada, got a minute?</p>", **kwargs}
    return OutboundEmail(idempotency_key=key, to_email=to, **fields)


def state(sandbox: OutreachSandbox) -> InstantlySandbox:
    assert isinstance(sandbox.state, InstantlySandbox)
    return sandbox.state


def test_first_email_adds_a_lead_whose_campaign_step_carries_subject_and_body(
    instantly_email: InstantlyEmail, instantly_sandbox: OutreachSandbox
) -> None:
    result = instantly_email.send(outbound())

    lead = state(instantly_sandbox).workspace.leads[result.provider_ref]
    assert lead["payload"]["sync_pipeline_key"] == "job-1"
    (sent,) = state(instantly_sandbox).workspace.emails.values()
    assert (sent["subject"], sent["body"]["html"]) == ("Quick question", "<p>Hi Ada, got a minute?</p>")
    assert sent["to_address_email_list"] == "ada.lovelace@acme.com"
    stats = instantly_sandbox.stats()
    assert (stats["emails_accepted"], stats["duplicate_sends"]) == (1, 0)


def test_lookup_finds_the_earlier_send_and_nothing_for_an_unsent_one(instantly_email: InstantlyEmail) -> None:
    sent = instantly_email.send(outbound())

    found = instantly_email.lookup(outbound())
    assert found is not None and found.provider_ref == sent.provider_ref
    assert instantly_email.lookup(outbound("job-2", to="grace.hopper@navy.example")) is None


def test_lost_response_then_lookup_finds_the_send_without_a_duplicate(outreach_sandbox_factory, make_instantly) -> None:
    sandbox = outreach_sandbox_factory("instantly", record=False)
    provider = make_instantly(sandbox)
    sandbox.admin("faults", {"lost_response_next": 1})

    with pytest.raises(TransientVendorError):
        provider.send(outbound())
    earlier = provider.lookup(outbound())

    assert earlier is not None and earlier.provider_ref in state(sandbox).workspace.leads
    stats = sandbox.stats()
    assert (stats["emails_accepted"], stats["duplicate_sends"], stats["faults"]) == (1, 0, {"lost_response": 1})


def test_resending_the_same_job_is_skipped_by_instantly_and_returns_the_same_lead(
    instantly_email: InstantlyEmail, instantly_sandbox: OutreachSandbox
) -> None:
    first = instantly_email.send(outbound())
    again = instantly_email.send(outbound())

    assert again.provider_ref == first.provider_ref
    assert instantly_sandbox.stats()["emails_accepted"] == 1


def test_a_second_email_to_a_lead_goes_out_as_a_reply_in_its_thread_and_is_found_by_its_marker(
    instantly_email: InstantlyEmail, instantly_sandbox: OutreachSandbox
) -> None:
    instantly_email.send(outbound())
    follow_up = outbound("job-2", subject="Following up", html="<p>Any thoughts?</p>")

    result = instantly_email.send(follow_up)

    reply = state(instantly_sandbox).workspace.emails[result.provider_ref]
    assert reply["ue_type"] == 3 and reply["subject"] == "Following up"
    assert key_marker("job-2") in reply["body"]["html"]
    found = instantly_email.lookup(follow_up)
    assert found is not None and found.provider_ref == result.provider_ref
    stats = instantly_sandbox.stats()
    assert (stats["emails_accepted"], stats["duplicate_sends"]) == (2, 0)


def test_reply_to_ref_answers_the_lead_s_reply_from_the_configured_sender(
    instantly_email: InstantlyEmail, instantly_sandbox: OutreachSandbox
) -> None:
    instantly_email.send(outbound())
    inbound = instantly_sandbox.admin("replies", {"lead_email": "ada.lovelace@acme.com", "text": "Tell me more"})

    result = instantly_email.send(outbound("job-3", subject="Re: Quick question", reply_to_ref=inbound["id"]))

    reply = state(instantly_sandbox).workspace.emails[result.provider_ref]
    assert reply["thread_id"] == inbound["thread_id"]
    assert reply["to_address_email_list"] == "ada.lovelace@acme.com"
    assert reply["eaccount"] == instantly_sandbox.credentials["eaccount"]


def test_webhooks_email_sent_and_bounced_carry_the_subscription_token_and_no_signature(
    instantly_email: InstantlyEmail, instantly_sandbox: OutreachSandbox, webhook_sink
) -> None:
    instantly_sandbox.admin("webhooks", {"url": webhook_sink.url})

    instantly_email.send(outbound(to="bounce.me@acme.com"))
    assert state(instantly_sandbox).webhooks.wait_idle()

    events = [(json.loads(body), headers) for body, headers in webhook_sink.received]
    assert [e["event_type"] for e, _ in events] == ["email_sent", "email_bounced"]
    payload, headers = events[0]
    assert payload["lead_email"] == "bounce.me@acme.com" and payload["email_id"]
    assert headers["x-webhook-token"] == instantly_sandbox.credentials["webhook_token"]
    assert not any("signature" in name for name in headers)


def test_a_wrong_key_is_an_auth_error_naming_the_setting(outreach_sandbox_factory, make_instantly) -> None:
    sandbox = outreach_sandbox_factory("instantly")
    with pytest.raises(AuthError, match="INSTANTLY_API_KEY"):
        make_instantly(sandbox, api_key="not-the-key").send(outbound())


def test_an_inactive_plan_is_a_permanent_402(
    instantly_email: InstantlyEmail, instantly_sandbox: OutreachSandbox
) -> None:
    instantly_sandbox.admin("config", {"plan_active": False})
    with pytest.raises(PermanentVendorError) as raised:
        instantly_email.send(outbound())
    assert raised.value.status == 402


def test_429s_from_the_workspace_limit_are_ridden_out(
    instantly_email: InstantlyEmail, instantly_sandbox: OutreachSandbox
) -> None:
    instantly_sandbox.admin("rate-limits", {"windows": [{"name": "second", "limit": 2, "seconds": 0.5}]})

    for n in range(3):
        instantly_email.send(outbound(f"job-{n}", to=f"lead{n}@acme.com"))

    stats = instantly_sandbox.stats()
    assert stats["emails_accepted"] == 3 and stats["rate_limited"] >= 1
