"""Request and response schemas, written by hand and named by direction (In, Out, Query); one
module per resource, every schema importable from here. The class names name the OpenAPI components."""

from __future__ import annotations

from dispatch.api.schemas.common import (
    ID_RANGE,
    DayOrDateTime,
    NoQuery,
    PageOut,
    PageQuery,
    Strict,
    StrictBoolean,
    WindowIn,
    WindowOut,
)
from dispatch.api.schemas.customers import (
    CustomerCardOut,
    CustomerListOut,
    CustomerQuery,
    CustomerUnitOut,
    OrderInCardOut,
    UnitQuery,
    UnitWithOwnerOut,
)
from dispatch.api.schemas.evidence import AttemptOut, CallbackOut, ComplaintOut, HeardOut
from dispatch.api.schemas.reference import (
    CityIn,
    CityOut,
    CoverageIn,
    CoverageOut,
    InstallerIn,
    InstallerOut,
    ProductLineIn,
    ProductLineOut,
    ProductModelIn,
    ProductModelOut,
    ProviderIn,
    ProviderOut,
)
from dispatch.api.schemas.sales import (
    CustomerIn,
    ProviderRefOut,
    SaleIn,
    SaleItemIn,
    SaleOut,
    SaleReceiptOut,
    SaleReceiptPageOut,
    SaleReceiptQuery,
    UnitOut,
    WorkOrderSummaryOut,
)
from dispatch.api.schemas.users import UserActiveIn, UserOut
from dispatch.api.schemas.work_orders import (
    FAULT_CATEGORIES,
    AssignIn,
    BookIn,
    CancelIn,
    CloseIn,
    CustomerBriefOut,
    EventOut,
    RepairIn,
    SalesWorkOrderOut,
    VisitOut,
    WorkOrderDetailOut,
    WorkOrderOut,
    WorkOrderPageOut,
    WorkOrderQuery,
)

__all__ = [
    "AssignIn", "AttemptOut", "BookIn", "CallbackOut", "CancelIn", "CityIn", "CityOut", "CloseIn",
    "ComplaintOut", "CoverageIn", "CoverageOut", "CustomerBriefOut", "CustomerCardOut", "CustomerIn",
    "CustomerListOut", "CustomerQuery", "CustomerUnitOut", "DayOrDateTime", "EventOut",
    "FAULT_CATEGORIES", "HeardOut", "ID_RANGE", "InstallerIn", "InstallerOut", "NoQuery",
    "OrderInCardOut", "PageOut", "PageQuery", "ProductLineIn", "ProductLineOut", "ProductModelIn",
    "ProductModelOut", "ProviderIn", "ProviderOut", "ProviderRefOut", "RepairIn", "SaleIn",
    "SaleItemIn", "SaleOut", "SaleReceiptOut", "SaleReceiptPageOut", "SaleReceiptQuery",
    "SalesWorkOrderOut", "Strict", "StrictBoolean", "UnitOut", "UnitQuery", "UnitWithOwnerOut",
    "UserActiveIn", "UserOut", "VisitOut", "WindowIn", "WindowOut", "WorkOrderDetailOut",
    "WorkOrderOut", "WorkOrderPageOut", "WorkOrderQuery", "WorkOrderSummaryOut",
]
