"""The languages Dispatch speaks with customers: prompts, texts and the words understood in replies."""

from __future__ import annotations

from dispatch.platform.errors import Invalid

ENGLISH = "en"
MANDARIN = "zh-CN"
LANGUAGES = (ENGLISH, MANDARIN)


def check(value: str, field: str = "language") -> str:
    """`value` if Dispatch speaks it, else a 422 naming the field and the choices."""
    if value not in LANGUAGES:
        raise Invalid.field(field, f"must be one of {', '.join(LANGUAGES)}, not {value!r}")
    return value
