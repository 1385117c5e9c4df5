"""What a customer reads from the care side, per language (en, zh-CN), and the words read as yes."""

from __future__ import annotations

import unicodedata
from datetime import date

from dispatch.platform.languages import MANDARIN

# A reply that books the maintenance visit (compared after trimming, case-folding and dropping
# closing punctuation, so "Yes!" and "是。" count; anything else is left to a person).
YES_WORDS = frozenset({"yes", "y", "1", "ok", "是", "好", "是的", "好的", "要"})


def is_yes(text: str) -> bool:
    """Whether a reply says yes to a maintenance invitation."""
    words = unicodedata.normalize("NFKC", text).strip().casefold().rstrip(".!。！ ")
    return words in YES_WORDS


def invitation(language: str, *, plan: str, model: str, due_on: date) -> str:
    """The invitation to book a maintenance visit."""
    if language == MANDARIN:
        return (
            f"您的{model}将于{due_on.year}年{due_on.month}月{due_on.day}日前后需要{plan}。"
            "回复“是”预约上门服务，我们会为您安排服务商。回复TD退订。"
        )
    return (
        f"Your {model} is due for {plan} around {due_on:%d %b %Y}. "
        "Reply YES to book a visit and we will arrange a service provider. Reply STOP to opt out."
    )


def booked(language: str, *, order_id: int, provider: str | None) -> str:
    """The answer to a yes: the order opened, and who will call to agree a time."""
    if language == MANDARIN:
        who = f"服务商{provider}" if provider else "我们的客服"
        return f"已为您预约保养（工单 {order_id}）。{who}会尽快与您联系确定上门时间。"
    who = provider or "our hotline"
    return f"Booked: maintenance order {order_id}. {who} will call you to agree a time for the visit."


def already_booked(language: str, *, order_id: int) -> str:
    """The answer to a second yes for the same cycle."""
    if language == MANDARIN:
        return f"您的保养已预约（工单 {order_id}），无需再次回复。"
    return f"Your maintenance visit is already booked (order {order_id}); no need to reply again."


def not_understood(language: str) -> str:
    """The answer to a reply that is not a yes: a person will read it."""
    if language == MANDARIN:
        return "收到。如需预约保养请回复“是”；客服人员会查看您的留言。"
    return "Thank you. Reply YES to book the maintenance visit; a member of our team will read your message."
