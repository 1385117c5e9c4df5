"""Seasonal campaigns: who they are for, a preview counted by reason, and runs in batches.

A campaign is for the owners of units of some product lines (gas water heaters, gas boilers) in
some cities (a cold list; none listed: every city). Every customer is counted under one reason
(set-based SQL; only the customers with a matching unit are looked at one by one):

- erased: their personal data was erased on request;
- no_matching_unit: they own no unit of those product lines in those cities (or none at all);
- opted_out: their number said STOP (or 退订 / TD);
- already_contacted: this campaign already requested a message to them;
- cap_reached: their proactive contact this local calendar period is at the cap already (the
  contact core would record the message as capped, not send it);
- contact: they would be sent the campaign's text.

A run takes customers in id order, a batch at a time (a job through the outbox), each batch in one
transaction under the campaign's row lock; a customer is recorded in `campaign_contacts` (its
primary key: a campaign contacts nobody twice) in the transaction that asks the contact core to
send (dedupe key per campaign per customer: never twice either). Pausing stops the batches after
the current one; resuming continues after the last customer looked at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dispatch import outreach
from dispatch.audit import trail
from dispatch.models import Campaign, CampaignState, City, CustomerMessage, ProductLine, utcnow
from dispatch.platform import languages, outbox
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Conflict, Invalid, NotFound

PURPOSE = "campaign"
BATCH_JOB = "care_campaign_batch"

REASONS = ("contact", "cap_reached", "already_contacted", "opted_out", "no_matching_unit", "erased")

# The customers a campaign is about: a unit of its product lines in its cities. Only they are
# judged one by one (in order: erased, opted out, contacted already, at the cap); every other
# customer is counted as erased or as having no matching unit from two plain counts.
_MATCHING_UNIT = """
    u.product_model_id IN (SELECT pm.id FROM product_models pm WHERE pm.product_line_id = ANY(:lines))
    AND (:every_city OR u.city_id = ANY(:cities))
"""

_PREVIEW = text(
    """
WITH matching AS (
    SELECT DISTINCT u.customer_id FROM units u WHERE """
    + _MATCHING_UNIT
    + """
), judged AS (
    SELECT c.id,
           CASE
             WHEN c.erased_at IS NOT NULL THEN 'erased'
             WHEN EXISTS (SELECT 1 FROM opt_outs x WHERE x.phone = c.phone) THEN 'opted_out'
             WHEN EXISTS (SELECT 1 FROM campaign_contacts k
                           WHERE k.campaign_id = :campaign AND k.customer_id = c.id) THEN 'already_contacted'
             WHEN (SELECT count(*) FROM customer_messages cm
                   WHERE cm.customer_id = c.id AND NOT cm.transactional
                     AND cm.status IN ('sending', 'sent', 'uncertain')
                     AND cm.started_at >= (date_trunc(:period, :now AT TIME ZONE ci.timezone)
                                           AT TIME ZONE ci.timezone)) >= :cap THEN 'cap_reached'
             ELSE 'contact'
           END AS reason
      FROM matching mt
      JOIN customers c ON c.id = mt.customer_id
      JOIN cities ci ON ci.id = c.city_id
)
SELECT reason, count(*) AS n, (array_agg(id))[1:CAST(:sample AS integer)] AS sample
  FROM judged
 GROUP BY reason
"""
)

_EVERYONE = text("SELECT count(*), count(*) FILTER (WHERE erased_at IS NOT NULL) FROM customers")

_ERASED_SAMPLE = text("SELECT id FROM customers WHERE erased_at IS NOT NULL ORDER BY id LIMIT :sample")

_UNMATCHED_SAMPLE = text(
    """
SELECT c.id FROM customers c
 WHERE c.erased_at IS NULL
   AND NOT EXISTS (SELECT 1 FROM units u WHERE u.customer_id = c.id AND """
    + _MATCHING_UNIT
    + """)
 ORDER BY c.id
 LIMIT :sample
"""
)

# One batch: the next customers after the cursor who would be contacted (or capped at send time).
_BATCH = text(
    """
SELECT c.id
  FROM customers c
 WHERE c.id > :cursor
   AND c.erased_at IS NULL
   AND EXISTS (SELECT 1 FROM units u WHERE u.customer_id = c.id AND """
    + _MATCHING_UNIT
    + """)
   AND NOT EXISTS (SELECT 1 FROM opt_outs x WHERE x.phone = c.phone)
   AND NOT EXISTS (SELECT 1 FROM campaign_contacts k WHERE k.campaign_id = :campaign AND k.customer_id = c.id)
 ORDER BY c.id
 LIMIT :size
"""
)

_RECORD = text(
    "INSERT INTO campaign_contacts (campaign_id, customer_id, batch_no, message_id, created_at)"
    " VALUES (:campaign, :customer, :batch, :message, :now) ON CONFLICT DO NOTHING RETURNING customer_id"
)


def _lines(session: Session, codes: list[str]) -> list[int]:
    if not codes:
        raise Invalid.field("product_lines", "name at least one product line")
    found = session.execute(select(ProductLine.code, ProductLine.id).where(ProductLine.code.in_(codes)))
    rows: dict[str, int] = {code: id_ for code, id_ in found}
    for i, code in enumerate(codes):
        if code not in rows:
            raise Invalid.field(f"product_lines.{i}", f"unknown product line {code!r}")
    return [rows[c] for c in codes]


def _cities(session: Session, names: list[str]) -> list[int]:
    rows: dict[str, int] = {
        name: id_ for name, id_ in session.execute(select(City.name, City.id).where(City.name.in_(names)))
    }
    for i, name in enumerate(names):
        if name not in rows:
            raise Invalid.field(f"cities.{i}", f"unknown city {name!r}")
    return [rows[n] for n in names]


def _texts(texts: Mapping[str, str]) -> dict[str, str]:
    for language in texts:
        languages.check(language, f"texts.{language}")
    for language in languages.LANGUAGES:
        if not (texts.get(language) or "").strip():
            raise Invalid.field(f"texts.{language}", "a campaign needs its text in every language it speaks")
    return {k: v.strip() for k, v in texts.items()}


def save_campaign(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    product_lines: list[str],
    cities: list[str],
    texts: Mapping[str, str],
    batch_size: int = 500,
) -> Campaign:
    """Create a campaign, or change one not yet started (409 once it ran)."""
    if not 1 <= batch_size <= 10000:
        raise Invalid.field("batch_size", "must be between 1 and 10000")
    values: dict[str, Any] = {
        "name": name,
        "product_line_ids": _lines(session, product_lines),
        "city_ids": _cities(session, cities),
        "texts": _texts(texts),
        "batch_size": batch_size,
    }
    campaign = session.scalars(select(Campaign).where(Campaign.code == code).with_for_update()).first()
    new = campaign is None
    if campaign is None:
        campaign = Campaign(code=code, created_by_id=actor.user_id, state=CampaignState.DRAFT.value)
        session.add(campaign)
    elif campaign.state != CampaignState.DRAFT:
        raise Conflict(f"campaign {code!r} is {campaign.state}; only a draft can be changed")
    changed = {k: v for k, v in values.items() if getattr(campaign, k, None) != v}
    for key, value in changed.items():
        setattr(campaign, key, value)
    session.flush()
    if new or changed:
        data = {k: v for k, v in changed.items() if k != "texts"} | {"texts": sorted(values["texts"])}
        trail.record(session, actor, "campaign", campaign.id, "created" if new else "updated", data=data)
    return campaign


def get_campaign(session: Session, campaign_id: int, *, for_update: bool = False) -> Campaign:
    """One campaign, or NotFound."""
    campaign = session.get(Campaign, campaign_id, with_for_update=for_update)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    return campaign


def list_campaigns(session: Session) -> list[Campaign]:
    """Every campaign, newest first."""
    return list(session.scalars(select(Campaign).order_by(Campaign.id.desc())))


def product_line_codes(session: Session, campaign: Campaign) -> list[str]:
    """The codes of the product lines a campaign is for (for showing it)."""
    rows: dict[int, str] = {
        id_: code for id_, code in session.execute(select(ProductLine.id, ProductLine.code))
    }
    return [rows[i] for i in campaign.product_line_ids if i in rows]


def city_names(session: Session, campaign: Campaign) -> list[str]:
    """The names of the cities on its list (empty: every city)."""
    rows: dict[int, str] = {id_: name for id_, name in session.execute(select(City.id, City.name))}
    return [rows[i] for i in campaign.city_ids if i in rows]


def _params(campaign: Campaign, settings: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "campaign": campaign.id,
        "lines": list(campaign.product_line_ids),
        "cities": list(campaign.city_ids) or [0],
        "every_city": not campaign.city_ids,
        "now": now,
        # The contact core's cap (outreach/sending.py): proactive texts that went out, or may
        # have, since the start of the customer's local calendar period.
        "period": str(settings["CONTACT_CAP_PERIOD"]),
        "cap": int(settings["CONTACT_PROACTIVE_CAP"]),
    }


@dataclass
class Preview:
    """Who a campaign would contact and who it leaves out, counted by reason, with a sample of each."""

    campaign_id: int
    counts: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[int]] = field(default_factory=dict)

    @property
    def would_contact(self) -> int:
        return self.counts.get("contact", 0)

    @property
    def left_out(self) -> int:
        return sum(n for reason, n in self.counts.items() if reason != "contact")


def preview(
    session: Session,
    campaign_id: int,
    settings: Mapping[str, Any],
    *,
    sample: int = 5,
    now: datetime | None = None,
) -> Preview:
    """Count every customer by what the campaign would do with them; only the customers with a
    matching unit are judged one by one (the rest are erased, or have no matching unit)."""
    if session.get_bind().dialect.name != "postgresql":
        raise Conflict("a campaign preview needs PostgreSQL (set-based judgement); SQLite does not have it")
    campaign = get_campaign(session, campaign_id)
    params = _params(campaign, settings, now or utcnow()) | {"sample": max(1, sample)}
    result = Preview(
        campaign_id=campaign.id, counts=dict.fromkeys(REASONS, 0), samples={r: [] for r in REASONS}
    )
    for reason, n, ids in session.execute(_PREVIEW, params):
        result.counts[reason] = int(n)
        result.samples[reason] = sorted(ids or [])
    everyone, erased = session.execute(_EVERYONE).one()
    matched_alive = sum(n for reason, n in result.counts.items() if reason != "erased")
    result.counts["erased"] = int(erased)
    result.counts["no_matching_unit"] = int(everyone) - int(erased) - matched_alive
    result.samples["erased"] = list(session.scalars(_ERASED_SAMPLE, params))
    result.samples["no_matching_unit"] = list(session.scalars(_UNMATCHED_SAMPLE, params))
    return result


def start(session: Session, actor: Actor, campaign_id: int) -> Campaign:
    """Start a draft campaign: its first batch is requested (409 otherwise)."""
    return _run(session, actor, campaign_id, CampaignState.DRAFT)


def resume(session: Session, actor: Actor, campaign_id: int) -> Campaign:
    """Resume a paused campaign after the last customer it looked at (409 otherwise)."""
    return _run(session, actor, campaign_id, CampaignState.PAUSED)


def _run(session: Session, actor: Actor, campaign_id: int, expected: CampaignState) -> Campaign:
    campaign = get_campaign(session, campaign_id, for_update=True)
    state = CampaignState(campaign.state)
    if state != expected:
        verb = "start" if expected == CampaignState.DRAFT else "resume"
        raise Conflict(f"campaign {campaign.code!r} is {state}; only a {expected} campaign can {verb}")
    campaign.run_no += 1
    campaign.started_at = campaign.started_at or utcnow()
    _request_batch(session, campaign)
    action = "started" if state == CampaignState.DRAFT else "resumed"
    _move(session, actor, campaign, action, CampaignState.RUNNING, {"cursor": campaign.cursor})
    return campaign


def pause(session: Session, actor: Actor, campaign_id: int) -> Campaign:
    """Stop a running campaign after the batch in hand (its messages already requested still go)."""
    campaign = get_campaign(session, campaign_id, for_update=True)
    if campaign.state != CampaignState.RUNNING:
        raise Conflict(f"campaign {campaign.code!r} is {campaign.state}; only a running campaign can pause")
    _move(session, actor, campaign, "paused", CampaignState.PAUSED, {"cursor": campaign.cursor})
    return campaign


def _move(
    session: Session, actor: Actor, campaign: Campaign, action: str, to: CampaignState, data: dict[str, Any]
) -> None:
    """Change a campaign's state, audited with where its run stands."""
    before = campaign.state
    campaign.state = to.value
    progress = {"run_no": campaign.run_no, "batches": campaign.batches, "contacted": campaign.contacted}
    trail.record(
        session,
        actor,
        "campaign",
        campaign.id,
        action,
        from_state=before,
        to_state=to.value,
        data=progress | data,
    )


def _request_batch(session: Session, campaign: Campaign) -> None:
    # Keyed by run and batch: a resume requests a fresh job; a job of an earlier run finds the
    # run moved on and does nothing.
    outbox.put(
        session,
        BATCH_JOB,
        {"campaign_id": campaign.id, "run_no": campaign.run_no, "batch_no": campaign.batches + 1},
        dedupe_key=f"campaign:{campaign.id}:{campaign.run_no}:{campaign.batches + 1}",
    )


SYSTEM = Actor.system("campaigns")


def run_batch(
    session: Session,
    campaign_id: int,
    run_no: int,
    batch_no: int,
    *,
    now: datetime | None = None,
) -> int | None:
    """Contact the next batch of a running campaign; returns how many, None if this job is stale.

    Under the campaign's row lock: a second runner of the same batch waits, then finds the batch
    done (`batches` moved on) and does nothing; a job of a run that was paused finds `run_no` or
    the state moved on. Requests the next batch in the same transaction, or finishes the run.
    """
    campaign = session.get(Campaign, campaign_id, with_for_update=True, populate_existing=True)
    if (
        campaign is None
        or campaign.state != CampaignState.RUNNING
        or campaign.run_no != run_no
        or campaign.batches + 1 != batch_no
    ):
        return None
    now = now or utcnow()
    params = {
        "campaign": campaign.id,
        "lines": list(campaign.product_line_ids),
        "cities": list(campaign.city_ids) or [0],
        "every_city": not campaign.city_ids,
        "cursor": campaign.cursor,
        "size": campaign.batch_size,
    }
    ids = list(session.scalars(_BATCH, params))
    contacted = 0
    for customer_id in ids:
        message = outreach.queue(
            session,
            SYSTEM,
            customer_id=customer_id,
            purpose=PURPOSE,
            transactional=False,
            dedupe_key=f"campaign:{campaign.id}:{customer_id}",
            params={"campaign_id": campaign.id},
        )
        recorded = session.execute(
            _RECORD,
            {
                "campaign": campaign.id,
                "customer": customer_id,
                "batch": batch_no,
                "now": now,
                "message": message.id if message is not None else None,
            },
        ).first()
        contacted += 1 if recorded is not None and message is not None else 0
    campaign.batches = batch_no
    campaign.contacted += contacted
    if ids:
        campaign.cursor = ids[-1]
    if len(ids) < campaign.batch_size:
        campaign.finished_at = now
        _move(session, SYSTEM, campaign, "finished", CampaignState.FINISHED, {})
    else:
        _request_batch(session, campaign)
    session.flush()
    return contacted


def compose(session: Session, message: CustomerMessage, language: str) -> str | None:
    """A campaign's text in the customer's language, read at send time."""
    campaign = session.get(Campaign, (message.params or {}).get("campaign_id"))
    if campaign is None:
        outreach.superseded(message, "the campaign no longer exists")
        return None
    return str(campaign.texts.get(language) or campaign.texts[languages.ENGLISH])


outreach.composers.register(PURPOSE, compose)
