"""What a notice says: the provider's text (in the city's language) and the webhook's JSON body.

Made at send time from the order as it is then. Only what a provider needs to do the job: the
order, the appointment (UTC and the city's local time), the address and the work; never the
customer's name, phone number or own words. A notice that ends the provider's part in an order
(cancelled, moved to another provider) carries no address at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dispatch.models import NoticeType, ProviderNotice, WorkOrder
from dispatch.platform.languages import MANDARIN

HEADLINES: dict[str, dict[str, str]] = {
    "en": {
        NoticeType.ROUTED: "New order #{id}",
        NoticeType.BOOKED: "Order #{id} booked",
        NoticeType.RESCHEDULED: "Order #{id} moved",
        NoticeType.UNBOOKED: "Order #{id} has no date any more",
        NoticeType.REOPENED: "Order #{id} reopened",
        NoticeType.CANCELLED: "Order #{id} cancelled: no visit",
        NoticeType.WITHDRAWN: "Order #{id} given to another provider: no visit",
        NoticeType.VISIT_UPCOMING: "Reminder: visit for order #{id}",
    },
    MANDARIN: {
        NoticeType.ROUTED: "新工单 #{id}",
        NoticeType.BOOKED: "工单 #{id} 已预约",
        NoticeType.RESCHEDULED: "工单 #{id} 已改期",
        NoticeType.UNBOOKED: "工单 #{id} 已取消预约时间",
        NoticeType.REOPENED: "工单 #{id} 已重新打开",
        NoticeType.CANCELLED: "工单 #{id} 已取消，无需上门",
        NoticeType.WITHDRAWN: "工单 #{id} 已转给其他服务商，无需上门",
        NoticeType.VISIT_UPCOMING: "上门提醒：工单 #{id}",
    },
}
KINDS: dict[str, dict[str, str]] = {
    "en": {
        "delivery": "delivery",
        "installation": "installation",
        "delivery_installation": "delivery and installation",
        "repair": "repair",
    },
    MANDARIN: {
        "delivery": "送货",
        "installation": "安装",
        "delivery_installation": "送货安装",
        "repair": "维修",
    },
}
NO_DATE = {"en": "no date yet", MANDARIN: "尚未预约时间"}


def _ends(notice: ProviderNotice) -> bool:
    return notice.type in (NoticeType.CANCELLED, NoticeType.WITHDRAWN)


def local_window(order: WorkOrder) -> tuple[datetime, datetime | None] | None:
    """The appointment in the order's city's local time."""
    if order.appointment_start is None:
        return None
    zone = ZoneInfo(order.city.timezone)
    end = order.appointment_end.astimezone(zone) if order.appointment_end else None
    return order.appointment_start.astimezone(zone), end


def text(notice: ProviderNotice, order: WorkOrder) -> str:
    """The provider's text: what, when (local), where, in the city's language."""
    language = order.city.language if order.city.language in HEADLINES else "en"
    headline = HEADLINES[language][NoticeType(notice.type)].format(id=order.id)
    if _ends(notice):
        return f"Dispatch: {headline}."
    window = local_window(order)
    when = NO_DATE[language]
    if window is not None:
        start, end = window
        when = f"{start:%Y-%m-%d %H:%M}" + (f"-{end:%H:%M}" if end else "")
    work = f"{KINDS[language].get(order.kind, order.kind)}, {order.unit.product_model.name}"
    return f"Dispatch: {headline}. {when} · {order.unit.address}, {order.city.name} · {work}"


def payload(notice: ProviderNotice, order: WorkOrder, now: datetime) -> dict[str, Any]:
    """The webhook's JSON body (Standard Webhooks: `type`, `timestamp`, `data`)."""
    data: dict[str, Any] = {
        "notice_id": notice.id,
        "work_order_id": order.id,
        "booking_version": notice.booking_version,
        "lead": None if notice.lead == "now" else notice.lead,
        "state": order.state,
    }
    if not _ends(notice):
        window = local_window(order)
        data["appointment"] = (
            None
            if window is None or order.appointment_start is None
            else {
                "start": order.appointment_start.isoformat(),
                "end": order.appointment_end.isoformat() if order.appointment_end else None,
                "local_start": window[0].isoformat(),
                "local_end": window[1].isoformat() if window[1] else None,
                "timezone": order.city.timezone,
            }
        )
        data["address"] = {"street": order.unit.address, "city": order.city.name}
        data["work"] = {
            "kind": order.kind,
            "product_line": order.product_line.code,
            "product_model": order.unit.product_model.code,
            "product_model_name": order.unit.product_model.name,
            "fault_category": order.fault_category,
        }
    return {"type": notice.type, "timestamp": now.isoformat(), "data": data}
