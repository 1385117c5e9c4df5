"""Tables, one module per capability. Times are timezone-aware UTC; money is integer minor units;
enums are short strings. Every model and enum is importable from here (`from dispatch.models
import WorkOrder`), and the migrations name `dispatch.models.UTCDateTime`."""

from dispatch.models.audit import (
    AttemptStatusEvent,
    AuditEvent,
    Callback,
    CallbackPurpose,
    CallbackState,
    Channel,
    Complaint,
    ComplaintStatus,
    ContactAttempt,
    OptOut,
    Rating,
    Verdict,
)
from dispatch.models.base import Base, JSONType, UTCDateTime, utcnow
from dispatch.models.customers import Customer, Unit
from dispatch.models.ledger import (
    Appeal,
    AppealStatus,
    EntryKind,
    Fine,
    FineStatus,
    LedgerEntry,
    LedgerMonth,
    Party,
)
from dispatch.models.orders import NotCompletedReason, OrderKind, OrderState, Outcome, Visit, WorkOrder
from dispatch.models.outreach import (
    FINAL_STATUSES,
    ContactConsent,
    ContactEvent,
    ContactEventKind,
    CustomerMessage,
    MessageStatus,
    PersonRequest,
)
from dispatch.models.plumbing import IdempotencyRecord, OutboxMessage
from dispatch.models.reference import (
    City,
    Coverage,
    Installer,
    ProductLine,
    ProductModel,
    Provider,
    Seniority,
)
from dispatch.models.sales import ReceiptStatus, Sale, SaleChannel, SaleReceipt
from dispatch.models.scorecards import FIGURES, ScorecardDay
from dispatch.models.users import ApiToken, Role, User

__all__ = [
    "ApiToken",
    "Appeal",
    "AppealStatus",
    "AttemptStatusEvent",
    "AuditEvent",
    "Base",
    "Callback",
    "CallbackPurpose",
    "CallbackState",
    "Channel",
    "City",
    "Complaint",
    "ContactConsent",
    "ContactEvent",
    "ContactEventKind",
    "ComplaintStatus",
    "ContactAttempt",
    "Coverage",
    "Customer",
    "CustomerMessage",
    "EntryKind",
    "FIGURES",
    "FINAL_STATUSES",
    "Fine",
    "FineStatus",
    "IdempotencyRecord",
    "Installer",
    "JSONType",
    "LedgerEntry",
    "LedgerMonth",
    "MessageStatus",
    "NotCompletedReason",
    "OptOut",
    "OrderKind",
    "OrderState",
    "OutboxMessage",
    "Outcome",
    "Party",
    "PersonRequest",
    "ProductLine",
    "ProductModel",
    "Provider",
    "Rating",
    "ReceiptStatus",
    "Role",
    "Sale",
    "SaleChannel",
    "SaleReceipt",
    "ScorecardDay",
    "Seniority",
    "Unit",
    "User",
    "UTCDateTime",
    "Verdict",
    "Visit",
    "WorkOrder",
    "utcnow",
]
