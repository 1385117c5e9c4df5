"""Reference data: cities, product lines and models, providers, their coverage and installers.

Loaded from CSV by an operator command (upserting by code or name, so a file can be loaded again
after an edit) and managed by admins through the API. Every change is an audit event.
"""

from __future__ import annotations

import csv
import inspect
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.audit import trail
from dispatch.models import (
    Base,
    City,
    Coverage,
    Installer,
    ProductLine,
    ProductModel,
    Provider,
    Seniority,
)
from dispatch.platform import languages, phones
from dispatch.platform.actors import Actor
from dispatch.platform.errors import Invalid, NotFound


@dataclass(frozen=True)
class CityRef:
    id: int
    name: str
    timezone: str
    region: str


@dataclass(frozen=True)
class ModelRef:
    id: int
    code: str
    line_id: int
    line_code: str


@dataclass(frozen=True)
class Catalogue:
    """Cities and product models as plain values: enough to check a sale without a query."""

    cities: dict[str, CityRef]
    models: dict[str, ModelRef]

    @classmethod
    def of(cls, cities: Iterable[City], models: Iterable[ProductModel]) -> Catalogue:
        """A catalogue of these rows."""
        return cls(
            cities={c.name: CityRef(c.id, c.name, c.timezone, c.region) for c in cities},
            models={m.code: ModelRef(m.id, m.code, m.product_line_id, m.product_line.code) for m in models},
        )

    def city(self, name: str) -> CityRef | None:
        """The city of this name, written in any letter case ("springfield"); the exact spelling first."""
        found = self.cities.get(name)
        if found is None:
            folded = name.strip().casefold()
            found = next((c for c in self.cities.values() if c.name.casefold() == folded), None)
        return found


def find_city(session: Session, name: str) -> City | None:
    """The city of this name, written in any letter case; the exact spelling first."""
    exact = session.scalars(select(City).where(City.name == name)).first()
    if exact is not None:
        return exact
    folded = name.strip().lower()
    return session.scalars(select(City).where(func.lower(City.name) == folded).order_by(City.id)).first()


def load_catalogue(session: Session) -> Catalogue:
    """Every city and product model (a few hundred rows: small enough to keep per process)."""
    return Catalogue.of(session.scalars(select(City)), session.scalars(select(ProductModel)))


class CatalogueCache:
    """A per-process copy of the catalogue, reloaded when older than `ttl` seconds and whenever
    it is asked about a city or model it lacks (one just added is known at once; a name that
    does not exist costs what the synchronous path always pays). What it lets through is checked
    again against the database when the sale is registered."""

    def __init__(self, load: Callable[[], Catalogue], *, ttl: float = 30.0):
        self._load = load
        self._ttl = ttl
        self._lock = threading.Lock()
        self._catalogue: Catalogue | None = None
        self._loaded_at = 0.0

    def get(self, *, city: str, models: Iterable[str]) -> Catalogue:
        """The catalogue, fresh enough to judge this city and these model codes."""
        with self._lock:
            catalogue = self._catalogue
            if (
                catalogue is None
                or time.monotonic() - self._loaded_at > self._ttl
                or catalogue.city(city) is None
                or any(code not in catalogue.models for code in models)
            ):
                catalogue = self._catalogue = self._load()
                self._loaded_at = time.monotonic()
            return catalogue


_Row = TypeVar("_Row", bound=Base)

# file name -> (model, the column that identifies a row)
FILES = ("cities", "product_lines", "product_models", "providers", "coverage", "installers")


def _by(session: Session, model: type[_Row], column: str, value: Any, path: str) -> _Row:
    row = session.scalars(select(model).where(getattr(model, column) == value)).first()
    if row is None:
        raise Invalid.field(path, f"unknown {model.__tablename__.rstrip('s').replace('_', ' ')} {value!r}")
    return row


def _apply(session: Session, actor: Actor, row: Any, values: dict[str, Any], entity: str) -> None:
    # `row`: a row of any reference table (each has an integer id).
    changed = {k: v for k, v in values.items() if getattr(row, k, None) != v}
    for key, value in changed.items():
        setattr(row, key, value)
    new = row.id is None
    if new:
        session.add(row)
    session.flush()
    if new or changed:
        trail.record(session, actor, entity, row.id, "created" if new else "updated", data=changed)


def upsert_city(
    session: Session, actor: Actor, *, name: str, timezone: str, region: str = "US", language: str = "en"
) -> City:
    """Create or update a city by name; its time zone must be a real IANA zone, its language one spoken."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid.field("timezone", f"unknown time zone {timezone!r}") from None
    if len(region) != 2 or not region.isalpha():
        raise Invalid.field("region", "must be a two-letter country code")
    languages.check(language)
    city = session.scalars(select(City).where(City.name == name)).first() or City(name=name)
    _apply(
        session, actor, city, {"timezone": timezone, "region": region.upper(), "language": language}, "city"
    )
    return city


def upsert_product_line(session: Session, actor: Actor, *, code: str, name: str) -> ProductLine:
    """Create or update a product line by code."""
    line = session.scalars(select(ProductLine).where(ProductLine.code == code)).first()
    line = line or ProductLine(code=code)
    _apply(session, actor, line, {"name": name}, "product_line")
    return line


def upsert_product_model(
    session: Session, actor: Actor, *, code: str, name: str, product_line: str
) -> ProductModel:
    """Create or update a product model by code, under a known product line."""
    line = _by(session, ProductLine, "code", product_line, "product_line")
    model = session.scalars(select(ProductModel).where(ProductModel.code == code)).first()
    model = model or ProductModel(code=code)
    _apply(session, actor, model, {"name": name, "product_line_id": line.id}, "product_model")
    return model


def upsert_provider(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    phone: str | None = None,
    active: bool = True,
    region: str = "US",
) -> Provider:
    """Create or update a provider by code."""
    provider = session.scalars(select(Provider).where(Provider.code == code)).first()
    provider = provider or Provider(code=code)
    e164 = phones.normalise(phone, region) if phone else None
    _apply(session, actor, provider, {"name": name, "phone": e164, "active": active}, "provider")
    return provider


def upsert_coverage(
    session: Session, actor: Actor, *, provider: str, city: str, product_line: str, priority: int = 100
) -> Coverage:
    """Say that a provider serves a product line in a city, with a priority (lower first)."""
    prov = _by(session, Provider, "code", provider, "provider")
    cty = _by(session, City, "name", city, "city")
    line = _by(session, ProductLine, "code", product_line, "product_line")
    cov = session.scalars(
        select(Coverage).where(
            Coverage.provider_id == prov.id,
            Coverage.city_id == cty.id,
            Coverage.product_line_id == line.id,
        )
    ).first()
    cov = cov or Coverage(provider_id=prov.id, city_id=cty.id, product_line_id=line.id)
    _apply(session, actor, cov, {"priority": int(priority)}, "coverage")
    return cov


def delete_coverage(session: Session, actor: Actor, coverage_id: int) -> None:
    """Stop routing new orders of a city and product line to a provider."""
    cov = session.get(Coverage, coverage_id)
    if cov is None:
        raise NotFound(f"coverage {coverage_id} not found")
    trail.record(
        session,
        actor,
        "coverage",
        cov.id,
        "deleted",
        data={"provider_id": cov.provider_id, "city_id": cov.city_id, "product_line_id": cov.product_line_id},
    )
    session.delete(cov)
    session.flush()


def upsert_installer(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    provider: str,
    seniority: str = Seniority.REGULAR.value,
    active: bool = True,
) -> Installer:
    """Create or update an installer by code, employed by a known provider."""
    if seniority not in Seniority.__members__.values():
        raise Invalid.field("seniority", f"must be one of {', '.join(s.value for s in Seniority)}")
    prov = _by(session, Provider, "code", provider, "provider")
    inst = session.scalars(select(Installer).where(Installer.code == code)).first()
    inst = inst or Installer(code=code)
    values = {"name": name, "provider_id": prov.id, "seniority": seniority, "active": active}
    _apply(session, actor, inst, values, "installer")
    return inst


def list_rows(session: Session, model: type[_Row]) -> list[_Row]:
    """All rows of a reference table, in id order."""
    return list(session.scalars(select(model).order_by(model.__table__.c.id)))


_BOOL = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}

LOADERS: dict[str, Callable[..., Any]] = {
    "cities": upsert_city,
    "product_lines": upsert_product_line,
    "product_models": upsert_product_model,
    "providers": upsert_provider,
    "coverage": upsert_coverage,
    "installers": upsert_installer,
}


def _columns(loader: Callable[..., Any]) -> tuple[set[str], set[str]]:
    """The columns a loader takes (its keyword-only parameters) and those it requires."""
    params = [p for p in inspect.signature(loader).parameters.values() if p.kind is p.KEYWORD_ONLY]
    return {p.name for p in params}, {p.name for p in params if p.default is p.empty}


def _coerce(row: dict[str | None, str | None], allowed: set[str], required: set[str]) -> dict[str, Any]:
    """A CSV row as loader arguments; Invalid names the first bad column."""
    if None in row:
        raise Invalid.field("_row", "has more values than the header has columns")
    out: dict[str, Any] = {}
    for key, raw in row.items():
        assert key is not None
        if key not in allowed:
            raise Invalid.field(key, f"unknown column (expected {', '.join(sorted(allowed))})")
        value = (raw or "").strip()
        if not value:
            if key in required:
                raise Invalid.field(key, "is required")
            continue
        if key == "active":
            if value.lower() not in _BOOL:
                raise Invalid.field(key, f"must be true or false, not {value!r}")
            out[key] = _BOOL[value.lower()]
        elif key == "priority":
            try:
                out[key] = int(value)
            except ValueError:
                raise Invalid.field(key, f"must be a whole number, not {value!r}") from None
        else:
            out[key] = value
    for key in sorted(required - set(row)):
        raise Invalid.field(key, "is a required column")
    return out


def load_csv_dir(session: Session, actor: Actor, folder: Path) -> dict[str, int]:
    """Load every known CSV file in a folder, in dependency order; returns rows per file."""
    counts: dict[str, int] = {}
    for name in FILES:
        path = folder / f"{name}.csv"
        if path.is_file():
            counts[name] = load_rows(session, actor, name, _read(path))
    return counts


def _read(path: Path) -> Iterator[tuple[int, dict[str | None, str | None]]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            yield reader.line_num, row


def load_rows(
    session: Session, actor: Actor, name: str, rows: Iterable[tuple[int, dict[str | None, str | None]]]
) -> int:
    """Upsert (line number, row) pairs of one reference file; an error names file, line and field."""
    loader = LOADERS[name]
    allowed, required = _columns(loader)
    count = 0
    for line, row in rows:
        try:
            loader(session, actor, **_coerce(row, allowed, required))
        except Invalid as exc:
            fields = {f"{name}.csv:{line}:{k}": v for k, v in exc.fields.items()}
            raise Invalid(f"{name}.csv line {line}: {exc.message}", fields) from None
        count += 1
    return count


def list_installers(session: Session, actor: Actor) -> list[Installer]:
    """Installers; a provider sees only its own."""
    query = select(Installer).order_by(Installer.id)
    if actor.provider_id is not None:
        query = query.where(Installer.provider_id == actor.provider_id)
    return list(session.scalars(query))
