"""What each purpose's text says, composed at send time: `register(purpose, fn)`.

`fn(session, message, language) -> str | None` reads what the text is about as it is NOW (the order,
its booking version) and returns the text in `language` ("en" or "zh-CN"), or None when it no longer
applies: the message is then recorded as superseded, with the reason the composer gives through
`superseded(message, reason)`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from dispatch.models import CustomerMessage

Composer = Callable[[Session, CustomerMessage, str], "str | None"]

_COMPOSERS: dict[str, Composer] = {}


def register(purpose: str, fn: Composer) -> None:
    """Make `fn` compose the texts of `purpose` (registering the same function again is harmless)."""
    known = _COMPOSERS.get(purpose)
    if known is not None and known is not fn:
        raise ValueError(f"purpose {purpose!r} already has a composer ({known.__qualname__})")
    _COMPOSERS[purpose] = fn


def composer_for(purpose: str) -> Composer:
    """The composer of `purpose`; LookupError when its module was not imported in this process."""
    try:
        return _COMPOSERS[purpose]
    except KeyError:
        raise LookupError(f"no composer registered for purpose {purpose!r}") from None


def superseded(message: CustomerMessage, reason: str) -> None:
    """For a composer: the message no longer applies, for `reason` (returns None to return it)."""
    message.reason = reason[:300]
