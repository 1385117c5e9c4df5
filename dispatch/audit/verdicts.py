"""Verdicts: the provider's claim and the customer's answer -> a finding. Pure, no database.

Claims are "completed", a NotCompletedReason value, or "status_check" (a booked order still open
at the end of its day). What the customer may answer depends on the claim (the robot's menu):

  customer_not_home:  confirmed (1) | nobody_came (2) | rescheduled (3)
  other reasons:      confirmed (1) | disputed (2)    | rescheduled (3)   (nobody_came = disputed)
  completed:          done (1)      | not_done (2)
  status_check:       done (1)      | not_done (2)    | rescheduled (3)

No answer at all (every attempt failed) is `unreachable`, which never counts as a confirmation.
"""

from __future__ import annotations

import enum

from dispatch.models import NotCompletedReason, Verdict

COMPLETED = "completed"
STATUS_CHECK = "status_check"

V = Verdict

_NOT_HOME = {
    "confirmed": V.CONFIRMED,
    "nobody_came": V.CONTRADICTED,
    "disputed": V.CONTRADICTED,
    "rescheduled": V.CUSTOMER_RESCHEDULED,
}
_OTHER_REASON = {
    "confirmed": V.CONFIRMED,
    "disputed": V.CONTRADICTED,
    "nobody_came": V.CONTRADICTED,
    "rescheduled": V.CUSTOMER_RESCHEDULED,
}
# The provider said the customer asked for another time: the customer saying so confirms it.
_CUSTOMER_RESCHEDULED = {**_OTHER_REASON, "rescheduled": V.CONFIRMED}
_COMPLETED = {
    "done": V.CONFIRMED,
    "not_done": V.CONTRADICTED,
    # "I asked to move it" against "completed" is still a claim of work that was not done.
    "rescheduled": V.CONTRADICTED,
}
# The order was booked for the day and nobody reported on it. A customer saying nobody came
# (and nobody called) is a no-show the provider did not report: a contradiction.
_STATUS_CHECK = {
    "done": V.CONFIRMED,
    "not_done": V.CONTRADICTED,
    "rescheduled": V.CUSTOMER_RESCHEDULED,
}


class UnknownAnswer(ValueError):
    """The answer is not one the customer could give to this claim."""


def answers_for(claim: str) -> dict[str, Verdict]:
    """The answers a customer may give to `claim`, each with the verdict it leads to."""
    if claim == COMPLETED:
        return _COMPLETED
    if claim == STATUS_CHECK:
        return _STATUS_CHECK
    if claim == NotCompletedReason.CUSTOMER_NOT_HOME:
        return _NOT_HOME
    if claim == NotCompletedReason.CUSTOMER_RESCHEDULED:
        return _CUSTOMER_RESCHEDULED
    if claim in NotCompletedReason.__members__.values():
        return _OTHER_REASON
    raise UnknownAnswer(f"unknown claim {claim!r}")


def decide(claim: str, happened: str | None) -> Verdict:
    """The verdict on `claim` given what the customer said happened (None: never reached)."""
    table = answers_for(claim)
    if happened is None:
        return V.UNREACHABLE
    if isinstance(happened, enum.Enum):
        happened = happened.value
    try:
        return table[happened]
    except KeyError:
        allowed = ", ".join(sorted(table))
        raise UnknownAnswer(
            f"{happened!r} is not an answer to a {claim!r} claim (one of: {allowed})"
        ) from None


def confirms(verdict: str | None) -> bool:
    """Whether a verdict confirms the provider's claim (unreachable never does)."""
    return verdict == V.CONFIRMED
