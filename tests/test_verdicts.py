"""The verdict table: (provider's claim, customer's answer) -> finding. Pure, no database."""

from __future__ import annotations

import pytest

from dispatch.audit import verdicts
from dispatch.audit.verdicts import UnknownAnswer, decide
from dispatch.models import NotCompletedReason

OTHER_REASONS = [
    r.value
    for r in NotCompletedReason
    if r not in (NotCompletedReason.CUSTOMER_NOT_HOME, NotCompletedReason.CUSTOMER_RESCHEDULED)
]

TABLE = [
    # claim, what the customer says, verdict
    ("customer_not_home", "confirmed", "confirmed"),
    ("customer_not_home", "nobody_came", "contradicted"),
    ("customer_not_home", "disputed", "contradicted"),
    ("customer_not_home", "rescheduled", "customer_rescheduled"),
    ("completed", "done", "confirmed"),
    ("completed", "not_done", "contradicted"),
    ("completed", "rescheduled", "contradicted"),
    ("customer_rescheduled", "rescheduled", "confirmed"),
    ("customer_rescheduled", "confirmed", "confirmed"),
    ("customer_rescheduled", "disputed", "contradicted"),
    ("status_check", "done", "confirmed"),
    ("status_check", "not_done", "contradicted"),
    ("status_check", "rescheduled", "customer_rescheduled"),
] + [
    row
    for reason in OTHER_REASONS
    for row in (
        (reason, "confirmed", "confirmed"),
        (reason, "disputed", "contradicted"),
        (reason, "nobody_came", "contradicted"),
        (reason, "rescheduled", "customer_rescheduled"),
    )
]


@pytest.mark.parametrize(("claim", "happened", "verdict"), TABLE)
def test_verdict_table(claim, happened, verdict):
    assert decide(claim, happened) == verdict


@pytest.mark.parametrize("claim", ["completed", "status_check", *[r.value for r in NotCompletedReason]])
def test_no_answer_is_unreachable_and_never_a_confirmation(claim):
    verdict = decide(claim, None)
    assert verdict == "unreachable"
    assert not verdicts.confirms(verdict)


@pytest.mark.parametrize(
    ("claim", "happened"),
    [
        ("completed", "confirmed"),  # "press 1 if that is right" belongs to the not-completed menu
        ("completed", "nobody_came"),
        ("customer_not_home", "done"),
        ("status_check", "confirmed"),
        ("customer_not_home", ""),
        ("completed", "yes"),
    ],
)
def test_answers_that_do_not_fit_the_claim_are_refused(claim, happened):
    with pytest.raises(UnknownAnswer):
        decide(claim, happened)


def test_unknown_claim_is_refused():
    with pytest.raises(UnknownAnswer):
        decide("teleported", "done")


def test_every_claim_has_a_contradicting_answer_and_only_confirmed_confirms():
    for claim in ["completed", "status_check", *[r.value for r in NotCompletedReason]]:
        table = verdicts.answers_for(claim)
        assert "contradicted" in table.values(), claim
        assert [v for v in table.values() if verdicts.confirms(v)] == [
            v for v in table.values() if v == "confirmed"
        ]
