"""The email contract, run identically for every entry of ``EMAIL_PROVIDER_FACTORIES``."""

from __future__ import annotations

import pytest

from sync_pipeline.errors import PermanentVendorError, TransientVendorError
from sync_pipeline.records import OutboundEmail, SendResult

from .conftest import EmailHarness


def resend_after_lost_answer(harness: EmailHarness, email: OutboundEmail) -> SendResult:
    """What the outbox worker does on a retry of the same key: look up first, send only if absent."""
    found = harness.provider.lookup(email)
    return found if found is not None else harness.provider.send(email)


def test_a_send_counts_one_accepted_email(email_harness: EmailHarness) -> None:
    result = email_harness.provider.send(email_harness.deliverable("contract-send-1"))
    assert result.provider_ref
    stats = email_harness.stats()
    assert (stats["emails_accepted"], stats["duplicate_sends"]) == (1, 0)


@pytest.mark.parametrize("fault", ["lost_response_next", "drop_next"])
def test_the_same_key_after_a_lost_answer_sends_exactly_once(email_harness: EmailHarness, fault: str) -> None:
    """``lost_response``: the vendor sent it and the answer was lost; ``drop``: it never arrived."""
    email = email_harness.deliverable("contract-lost-1")
    assert email_harness.provider.lookup(email) is None  # never sent: the vendor has no record

    email_harness.faults(**{fault: 1})
    with pytest.raises(TransientVendorError):
        email_harness.provider.send(email)
    first = resend_after_lost_answer(email_harness, email)
    second = resend_after_lost_answer(email_harness, email)  # the same key retried once more

    assert first.provider_ref == second.provider_ref
    stats = email_harness.stats()
    assert (stats["emails_accepted"], stats["duplicate_sends"]) == (1, 0)


def test_a_permanent_rejection_carries_the_vendor_message(email_harness: EmailHarness) -> None:
    with pytest.raises(PermanentVendorError) as raised:
        email_harness.provider.send(email_harness.rejected)
    assert email_harness.rejection_text in str(raised.value)
    assert email_harness.stats()["emails_accepted"] == 0


def test_a_burst_of_429s_is_ridden_out(email_harness: EmailHarness) -> None:
    email_harness.faults(burst_429=2, burst_retry_after_s=1)
    result = email_harness.provider.send(email_harness.deliverable("contract-burst-1"))
    assert result.provider_ref
    stats = email_harness.stats()
    assert (stats["rate_limited"], stats["emails_accepted"], stats["duplicate_sends"]) == (2, 1, 0)
