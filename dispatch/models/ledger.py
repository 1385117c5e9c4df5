"""The bonus and fine ledger: entries (append-only), fines and their appeals, months.

Money is integer minor units with its currency (CNY 2,000.00 is 200000). Amounts are signed from
the party's side: a bonus paid to an installer is positive, a fine charged to a provider negative,
a reversal the exact opposite of the entry it reverses. Entries are never updated or deleted (the
database refuses it, migration 0008); a correction is a new entry that reverses one. A closed month
takes no entry dated in it.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.models.base import Base, _choices, utcnow
from dispatch.models.reference import Installer, Provider


class EntryKind(enum.StrEnum):
    BONUS = "bonus"  # to an installer, for a verified very-satisfied job
    FINE = "fine"  # to a provider, for a contradicted claim (a posted fine)
    REVERSAL = "reversal"  # the opposite of one earlier entry (an upheld appeal, a correction)


class Party(enum.StrEnum):
    PROVIDER = "provider"
    INSTALLER = "installer"


class FineStatus(enum.StrEnum):
    PROPOSED = "proposed"  # opened by the verdict; waits for a supervisor
    POSTED = "posted"  # a supervisor posted it: a fine entry exists
    VOIDED = "voided"  # a supervisor voided it: no entry


class AppealStatus(enum.StrEnum):
    OPEN = "open"
    UPHELD = "upheld"  # the fine is reversed (a linked reversal entry)
    REJECTED = "rejected"


class LedgerMonth(Base):
    """A ledger month ("2031-03"); once closed, no entry may be dated in it."""

    __tablename__ = "ledger_months"
    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7), unique=True)  # YYYY-MM, in LEDGER_TIMEZONE
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Why it was closed (free text, e.g. "March payroll run"): here, a digest in the trail.
    close_note: Mapped[str | None] = mapped_column(Text)


class LedgerEntry(Base):
    """One posting, never altered. `cause` is unique: each thing is posted once, whatever retries."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        _choices("ck_ledger_entries_kind", "kind", EntryKind),
        _choices("ck_ledger_entries_party", "party", Party),
        CheckConstraint(
            "(party = 'installer') = (installer_id IS NOT NULL)", name="ck_ledger_entries_party_id"
        ),
        CheckConstraint("(kind = 'reversal') = (reverses_id IS NOT NULL)", name="ck_ledger_entries_reversal"),
        CheckConstraint(
            "(kind = 'bonus' AND amount_minor > 0) OR (kind = 'fine' AND amount_minor < 0) "
            "OR (kind = 'reversal' AND amount_minor <> 0)",
            name="ck_ledger_entries_sign",
        ),
        Index("ix_ledger_entries_provider_date", "provider_id", "entry_date"),
        Index("ix_ledger_entries_installer_date", "installer_id", "entry_date"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # What was posted, as a unique key: "bonus:callback:12", "fine:7", "reversal:33".
    cause: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    party: Mapped[str] = mapped_column(String(16))
    # The provider concerned (for an installer's bonus, the installer's provider): who may see it.
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    installer_id: Mapped[int | None] = mapped_column(ForeignKey("installers.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    entry_date: Mapped[date]  # the ledger day (LEDGER_TIMEZONE); its month must be open
    # What caused it: the verification callback (the verdict) and its work order.
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callbacks.id"), index=True)
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"))
    fine_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_fines.id"))
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_appeals.id"))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    # A short description: generated from enums and ids, or the supervisor's reason for a
    # correction (free text: the trail keeps its digest).
    memo: Mapped[str] = mapped_column(Text)
    posted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    provider: Mapped[Provider] = relationship(lazy="joined")
    installer: Mapped[Installer | None] = relationship(lazy="joined")

    if TYPE_CHECKING:
        # Not a column: the entry reversing this one, set by the query that shows one entry.
        reversed_by_id: int | None


class Fine(Base):
    """A fine proposed by a contradicted verdict, posted or voided once by a supervisor."""

    __tablename__ = "ledger_fines"
    __table_args__ = (
        _choices("ck_ledger_fines_status", "status", FineStatus),
        CheckConstraint("amount_minor > 0", name="ck_ledger_fines_amount"),
        Index("ix_ledger_fines_provider_status", "provider_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id"), unique=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # what posting it charges (positive)
    currency: Mapped[str] = mapped_column(String(3))
    claim: Mapped[str] = mapped_column(String(32))  # the claim the customer contradicted
    status: Mapped[str] = mapped_column(String(16), default=FineStatus.PROPOSED.value)
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[Provider] = relationship(lazy="joined")
    # Its entries: the fine posted, and the reversal of an upheld appeal (oldest first).
    entries: Mapped[list[LedgerEntry]] = relationship(
        primaryjoin="Fine.id == foreign(LedgerEntry.fine_id)", order_by="LedgerEntry.id", viewonly=True
    )
    appeal: Mapped[Appeal | None] = relationship(
        primaryjoin="Fine.id == foreign(Appeal.fine_id)", viewonly=True, uselist=False
    )

    if TYPE_CHECKING:
        # Not a column: until when it may be appealed (posted fines), set by the queries that show it.
        appeal_until: datetime | None


class Appeal(Base):
    """A provider's appeal against a posted fine, with its statement; upheld or rejected once."""

    __tablename__ = "ledger_appeals"
    __table_args__ = (_choices("ck_ledger_appeals_status", "status", AppealStatus),)
    id: Mapped[int] = mapped_column(primary_key=True)
    fine_id: Mapped[int] = mapped_column(ForeignKey("ledger_fines.id"), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    statement: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
    filed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default=AppealStatus.OPEN.value)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    fine: Mapped[Fine] = relationship(lazy="joined")
