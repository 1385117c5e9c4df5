"""The hotline desk (role agent): find a customer as you type, see the whole card, and key in a
phoned-in sale, book or move an appointment, open a repair or cancel an order. Views are thin:
each action is one call of the same domain function as the API's."""

from __future__ import annotations

import secrets
from datetime import date, datetime, time
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from dispatch import outreach
from dispatch.audit import scheduling
from dispatch.customers import directory
from dispatch.models import City, Customer, ProductModel, Role, Unit, utcnow
from dispatch.orders import booking, queries, repairs
from dispatch.orders.machine import OPEN_STATES
from dispatch.platform.errors import Conflict, Invalid, NotFound
from dispatch.reference.catalogue import list_rows
from dispatch.sales import intake
from dispatch.web import forms, once, present
from dispatch.web.blueprint import bp
from dispatch.web.context import actor, db, setting
from dispatch.web.security import is_htmx, signed_in

DESK = Role.AGENT.value
TEXT_MAX = 2000

# --- finding a customer ------------------------------------------------------------------------------


@bp.get("/hotline")
@signed_in(DESK)
def hotline() -> ResponseReturnValue:
    """The desk: one search box (phone digits, name words, address or city), results as you type."""
    q = request.args.get("q", "").strip()[:120]
    found = directory.lookup(db(), q) if q else []
    asked = outreach.requests.open_requests(db())
    page = render_template(
        "web/hotline/desk.html", q=q, found=found, asked=asked, form_key=secrets.token_urlsafe(16)
    )
    db().rollback()
    return page


@bp.post("/hotline/requests/<int:request_id>/done")
@signed_in(DESK)
def request_done(request_id: int) -> ResponseReturnValue:
    """A customer's request (another time, a text to check) is dealt with: off the queue, once."""
    note = request.form.get("note", "").strip()
    back = url_for("web.hotline") + "#requests"
    if len(note) > 300:
        flash(f"Request #{request_id} not marked done: the note may have at most 300 characters.", "error")
        return redirect(back, 303)
    key, replayed = once.claim({"note": note}, back)
    if replayed is not None:
        return replayed
    try:
        outreach.requests.mark_done(db(), actor(), request_id, note or None)
    except (Conflict, NotFound) as exc:
        once.give_back(key)
        flash(f"Request #{request_id}: {exc.message}.", "notice")
        return redirect(back, 303)
    return forms.saved(key, back, f"Request #{request_id} is done.")


@bp.get("/hotline/search")
@signed_in(DESK)
def search() -> ResponseReturnValue:
    """The results for what was typed (htmx swaps them in); a whole page without htmx."""
    if not is_htmx():
        return redirect(url_for("web.hotline", q=request.args.get("q", "")))
    q = request.args.get("q", "").strip()[:120]
    html = render_template("web/hotline/_results.html", q=q, found=directory.lookup(db(), q) if q else [])
    db().rollback()
    return html


# --- the customer's card -----------------------------------------------------------------------------


def _customer(customer_id: int) -> Customer:
    try:
        return directory.get_card(db(), customer_id)
    except NotFound:
        abort(404)


def _card(
    customer_id: int,
    status: int = 200,
    *,
    forms: dict[str, dict[str, Any]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    problem: str | None = None,
) -> ResponseReturnValue:
    """The card with one form per action; `forms`/`errors` keyed by form ("book-12", "repair-3")."""
    customer = _customer(customer_id)
    tz = customer.city.timezone
    language = customer.language or customer.city.language
    page = render_template(
        "web/hotline/card.html",
        customer=customer,
        contacts=outreach.contact_history(db(), customer_id),
        tz=tz,
        local_now=scheduling.local_time(utcnow(), tz),
        language=present.LANGUAGES.get(language, language),
        open_states={s.value for s in OPEN_STATES},
        bookable={"pending", "booked"},
        forms=forms or {},
        errors=errors or {},
        problem=problem,
        form_key=secrets.token_urlsafe(16),
        faults=present.FAULTS,
        fault_choices=repairs.FAULT_CATEGORIES,
    )
    db().rollback()
    return page, status


@bp.get("/hotline/customers/<int:customer_id>")
@signed_in(DESK)
def customer_card(customer_id: int) -> ResponseReturnValue:
    """Everything about one customer: units, every order with its history, language, local time."""
    return _card(customer_id)


@bp.post("/hotline/orders/<int:order_id>/appointment")
@signed_in(DESK)
def book(order_id: int) -> ResponseReturnValue:
    """Book a pending order for a time window, or move a booked one (the customer's local time)."""
    customer_id = _order_customer(order_id)
    form = forms.read("day", "start", "end")
    name = f"book-{order_id}"
    errors: dict[str, str] = {}
    window = forms.window(form, errors, required=True)
    if errors or window is None:
        return _card(customer_id, 422, forms={name: form}, errors={name: errors})
    back = url_for("web.customer_card", customer_id=customer_id)
    key, replayed = once.claim(form, back)
    if replayed is not None:
        return replayed
    try:
        order = booking.book(
            db(),
            actor(),
            order_id,
            window,
            sales_hours=setting("SALES_APPOINTMENT_HOURS"),
        )
        message = (
            f"Order #{order.id} is booked for {present.when(order.appointment_start, order.city.timezone)}"
            f"–{present.local(order.appointment_end, order.city.timezone):%H:%M} (customer's time)."
        )
        return forms.saved(key, f"{back}#order-{order_id}", message)
    except Invalid as exc:
        once.give_back(key)
        errors = forms.field_errors(exc, "day", forms.WINDOW_FIELDS)
        return _card(customer_id, 422, forms={name: form}, errors={name: errors})
    except Conflict as exc:
        once.give_back(key)
        return _card(customer_id, 409, forms={name: form}, problem=f"Not booked: {exc.message}.")


@bp.post("/hotline/orders/<int:order_id>/cancel")
@signed_in(DESK)
def cancel(order_id: int) -> ResponseReturnValue:
    """Cancel an open order, with the customer's reason."""
    customer_id = _order_customer(order_id)
    form = forms.read("reason")
    name = f"cancel-{order_id}"
    errors = {}
    if not form["reason"]:
        errors["reason"] = "Say why the order is cancelled (the customer's words)."
    forms.too_long(form, errors, {"reason": 500})
    if errors:
        return _card(customer_id, 422, forms={name: form}, errors={name: errors})
    back = url_for("web.customer_card", customer_id=customer_id)
    key, replayed = once.claim(form, back)
    if replayed is not None:
        return replayed
    try:
        booking.cancel_order(db(), actor(), order_id, reason=form["reason"], settings=current_app.config)
        return forms.saved(key, f"{back}#order-{order_id}", f"Order #{order_id} is cancelled.")
    except Conflict as exc:
        once.give_back(key)
        return _card(customer_id, 409, forms={name: form}, problem=f"Not cancelled: {exc.message}.")


def _order_customer(order_id: int) -> int:
    """The customer of an order this agent may see; 404 otherwise."""
    try:
        return queries.get_order(db(), actor(), order_id).customer_id
    except NotFound:
        abort(404)


@bp.post("/hotline/units/<int:unit_id>/repair")
@signed_in(DESK)
def repair(unit_id: int) -> ResponseReturnValue:
    """Open a repair order for one of the customer's units: fault category and description."""
    unit = db().get(Unit, unit_id)
    if unit is None:
        abort(404)
    customer_id = unit.customer_id
    form = forms.read("fault_category", "fault_description")
    name = f"repair-{unit_id}"
    errors = {}
    if form["fault_category"] not in repairs.FAULT_CATEGORIES:
        errors["fault_category"] = "Choose what kind of fault it is."
    if not form["fault_description"]:
        errors["fault_description"] = "Describe the fault in the customer's words."
    forms.too_long(form, errors, {"fault_description": TEXT_MAX})
    if errors:
        return _card(customer_id, 422, forms={name: form}, errors={name: errors})
    back = url_for("web.customer_card", customer_id=customer_id)
    key, replayed = once.claim(form, back)
    if replayed is not None:
        return replayed
    try:
        order = repairs.open_repair(
            db(),
            actor(),
            serial_number=None,
            unit_id=unit_id,
            fault_category=form["fault_category"],
            fault_description=form["fault_description"],
            appointment=None,
            settings=current_app.config,
        )
        repeat = f" It repeats order #{order.repeat_of_id} (same fault)." if order.repeat_of_id else ""
        message = (
            f"Repair order #{order.id} is open ({present.STATES.get(order.state, order.state)}).{repeat}"
        )
        return forms.saved(key, f"{back}#order-{order.id}", message)
    except (Invalid, Conflict) as exc:
        once.give_back(key)
        errors = forms.field_errors(exc, "fault_description", {"fault_category": "fault_category"})
        return _card(
            customer_id, 409 if isinstance(exc, Conflict) else 422, forms={name: form}, errors={name: errors}
        )


# --- a phoned-in sale --------------------------------------------------------------------------------

SALE_FIELDS = (
    "name", "phone", "address", "city", "language", "shop", "salesperson", "sold_on",
    "model", "serial_number", "service", "day", "start", "end",
)  # fmt: skip
SERVICES = [
    ("delivery_installation", "Delivery and installation"),
    ("installation", "Installation only"),
    ("delivery", "Delivery only"),
    ("none", "Nothing (registration only)"),
]
SALE_PATHS = {
    "customer.name": "name",
    "customer.phone": "phone",
    "customer.address": "address",
    "customer.city": "city",
    "customer.language": "language",
    "sold_at": "sold_on",
    "items.0.model": "model",
    "items.0.product_line": "model",
    "items.0.serial_number": "serial_number",
    **forms.WINDOW_FIELDS,
}


def _sale_page(form: dict[str, str], errors: dict[str, str], status: int = 200) -> ResponseReturnValue:
    page = render_template(
        "web/hotline/sale.html",
        form=form,
        errors=errors,
        cities=sorted(list_rows(db(), City), key=lambda c: c.name),
        models=sorted(list_rows(db(), ProductModel), key=lambda m: m.code),
        services=SERVICES,
        languages=present.LANGUAGES,
        form_key=secrets.token_urlsafe(16),
    )
    db().rollback()
    return page, status


@bp.get("/hotline/sale")
@signed_in(DESK)
def sale_form() -> ResponseReturnValue:
    """The phoned-in sale form: empty for a new customer, or filled from a known one's card."""
    form = {name: "" for name in SALE_FIELDS}
    form["service"] = "delivery_installation"
    customer_id = request.args.get("customer", type=int)
    if customer_id is not None:
        customer = _customer(customer_id)
        form.update(
            name=customer.name,
            phone=customer.phone,
            address=customer.address,
            city=customer.city.name,
            customer_id=str(customer.id),
        )
    return _sale_page(form, {})


def _sold_at(text: str, errors: dict[str, str]) -> datetime:
    """The day of the sale: today means now; an earlier day, its noon (the city's local time)."""
    if not text:
        return utcnow()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors["sold_on"] = "Give a day, like 2026-11-28 (or leave it empty for today)."
        return utcnow()
    if day == utcnow().date():
        return utcnow()
    return datetime.combine(day, time(12))  # naive: read in the customer's city by the domain


@bp.post("/hotline/sale")
@signed_in(DESK)
def sale() -> ResponseReturnValue:
    """Key in a sale phoned in by a shop: the same registration as the API's POST /sales."""
    form = forms.read(*SALE_FIELDS, "customer_id")
    errors: dict[str, str] = {}
    required = {
        "name": "The customer's name.",
        "phone": "The customer's phone number.",
        "address": "Where the unit goes (street and number).",
        "city": "Choose the customer's city.",
        "shop": "Which shop sold it.",
        "salesperson": "Who sold it (the name the shop gave).",
        "model": "Choose the product model.",
    }
    for name, message in required.items():
        if not form[name]:
            errors[name] = message
    forms.too_long(
        form,
        errors,
        {"name": 160, "phone": 40, "address": 300, "shop": 160, "salesperson": 160, "serial_number": 80},
    )
    if form["language"] and form["language"] not in present.LANGUAGES:
        errors["language"] = "Choose a language, or the city's."
    if form["service"] not in dict(SERVICES):
        errors["service"] = "Choose what the customer needs."
    sold_at = _sold_at(form["sold_on"], errors)
    window = forms.window(form, errors, required=False)
    if errors:
        return _sale_page(form, errors, 422)
    service = form["service"]
    customer = {
        "name": form["name"],
        "phone": form["phone"],
        "address": form["address"],
        "city": form["city"],
    }
    if form["language"]:
        customer["language"] = form["language"]
    item: dict[str, Any] = {
        "model": form["model"],
        "serial_number": form["serial_number"] or None,
        "delivery": service in ("delivery", "delivery_installation"),
        "installation": service in ("installation", "delivery_installation"),
    }
    report = intake.SaleReport(
        shop=form["shop"],
        salesperson=form["salesperson"],
        sold_at=sold_at,
        customer=customer,
        items=[item],
        appointment=window,
    )
    key, replayed = once.claim({k: v for k, v in form.items() if k != "sold_on"}, url_for("web.hotline"))
    if replayed is not None:
        return replayed
    try:
        result = intake.report_sale(
            db(),
            actor(),
            report,
            region=setting("DEFAULT_REGION"),
        )
        cust = result.sale.customer_id
        orders = ", ".join(f"#{o.id} ({present.STATES.get(o.state, o.state)})" for o in result.work_orders)
        who = "New customer registered. " if result.customer_created else ""
        message = f"{who}Sale #{result.sale.id} keyed in" + (f": order {orders}." if orders else ".")
        first = result.work_orders[0].id if result.work_orders else None
        location = url_for("web.customer_card", customer_id=cust) + (f"#order-{first}" if first else "")
        return forms.saved(key, location, message)
    except Invalid as exc:
        once.give_back(key)
        return _sale_page(form, forms.field_errors(exc, "name", SALE_PATHS), 422)
