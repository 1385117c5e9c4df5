"""Reference data: managed by admins through the API, loaded from CSV by `dispatch load-reference`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import func, select

from dispatch.cli import main
from dispatch.models import AuditEvent, City, Coverage, Installer, ProductModel, Provider
from dispatch.reference import demo


@pytest.fixture
def cli(app):
    """Run `dispatch ...` in-process against the test database."""
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))

    return run


def _count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


# --- the admin API --------------------------------------------------------------------------------


def test_an_admin_builds_a_new_city_from_scratch_and_a_sale_there_is_routed(api, session):
    steps = [
        ("/api/v1/cities", {"name": "Hillcrest", "timezone": "America/Phoenix"}),
        ("/api/v1/product-lines", {"code": "heat_pump", "name": "Heat pumps"}),
        ("/api/v1/product-models", {"code": "HP-9", "name": "Heat pump 9 kW", "product_line": "heat_pump"}),
        ("/api/v1/providers", {"code": "HILL-HP", "name": "Hillcrest Heat Pumps", "phone": "(602) 555-0188"}),
        (
            "/api/v1/coverage",
            {"provider": "HILL-HP", "city": "Hillcrest", "product_line": "heat_pump", "priority": 5},
        ),
        (
            "/api/v1/installers",
            {"code": "HH-01", "name": "Ivy Hall", "provider": "HILL-HP", "seniority": "master"},
        ),
    ]
    for path, body in steps:
        response = api.post(path, "admin", body)
        assert response.status_code == 201, (path, response.get_json())
    provider = api.get("/api/v1/providers", "supervisor").get_json()[-1]
    assert (provider["code"], provider["phone"], provider["active"]) == ("HILL-HP", "+16025550188", True)
    coverage = api.get("/api/v1/coverage", "agent").get_json()[-1]
    assert (coverage["provider"], coverage["city"], coverage["product_line"], coverage["priority"]) == (
        "HILL-HP",
        "Hillcrest",
        "heat_pump",
        5,
    )
    order = api.sale(city="Hillcrest", model="HP-9", phone="+1 602 555 0111")["work_orders"][0]
    assert order["provider"]["code"] == "HILL-HP"
    # Every change is on the audit trail, by the admin.
    entities = {
        e.entity for e in session.scalars(select(AuditEvent).where(AuditEvent.actor.like("%(admin)")))
    }
    assert {"city", "product_line", "product_model", "provider", "coverage", "installer"} <= entities


def test_posting_the_same_code_again_updates_instead_of_duplicating(api, session):
    cities = _count(session, City)
    response = api.post("/api/v1/cities", "admin", {"name": "Springfield", "timezone": "America/New_York"})
    assert response.status_code == 201
    assert _count(session, City) == cities
    assert (
        session.scalars(select(City).where(City.name == "Springfield")).one().timezone == "America/New_York"
    )
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "city", AuditEvent.action == "updated")
    ).one()
    assert event.data == {"timezone": "America/New_York"}
    # Posting it unchanged records nothing new.
    events = _count(session, AuditEvent)
    api.post("/api/v1/cities", "admin", {"name": "Springfield", "timezone": "America/New_York"})
    assert _count(session, AuditEvent) == events


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/cities", {"name": "X", "timezone": "Mars/Olympus"}, "timezone"),
        ("/api/v1/cities", {"name": "X", "timezone": "UTC", "region": "USA"}, "region"),
        ("/api/v1/product-models", {"code": "Q", "name": "Q", "product_line": "nope"}, "product_line"),
        ("/api/v1/providers", {"code": "P", "name": "P", "phone": "123"}, "phone"),
        (
            "/api/v1/coverage",
            {"provider": "NOPE", "city": "Springfield", "product_line": "gas_wh"},
            "provider",
        ),
        ("/api/v1/coverage", {"provider": "SPR-HEAT", "city": "Atlantis", "product_line": "gas_wh"}, "city"),
        (
            "/api/v1/coverage",
            {"provider": "SPR-HEAT", "city": "Springfield", "product_line": "gas_wh", "priority": "1"},
            "priority",
        ),
        (
            "/api/v1/installers",
            {"code": "I", "name": "I", "provider": "SPR-HEAT", "seniority": "boss"},
            "seniority",
        ),
        ("/api/v1/installers", {"code": "I", "name": "I", "provider": "SPR-HEAT", "age": 3}, "age"),
    ],
)
def test_bad_reference_data_is_a_422_naming_the_field(api, session, path, body, field):
    events = _count(session, AuditEvent)
    response = api.post(path, "admin", body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert _count(session, AuditEvent) == events


def test_only_admins_change_reference_data(api):
    for who in ("agent", "supervisor", "provider:SPR-HEAT", "sales", "callback"):
        assert api.post("/api/v1/cities", who, {"name": "Y", "timezone": "UTC"}).status_code == 403
    assert api.delete("/api/v1/coverage/1", "supervisor").status_code == 403


def test_deleting_coverage_reroutes_new_orders(api):
    coverage = api.get("/api/v1/coverage", "admin").get_json()
    heat = next(
        c
        for c in coverage
        if (c["provider"], c["city"], c["product_line"]) == ("SPR-HEAT", "Springfield", "electric_wh")
    )
    assert api.delete(f"/api/v1/coverage/{heat['id']}", "admin").status_code == 204
    assert api.delete(f"/api/v1/coverage/{heat['id']}", "admin").status_code == 404
    assert api.sale(model="EW-50")["work_orders"][0]["provider"]["code"] == "SPR-QUICK"


def test_a_provider_lists_only_its_own_installers(api):
    own = api.get("/api/v1/installers", "provider:RIV-PRO").get_json()
    assert [i["code"] for i in own] == ["RP-01", "RP-02"]
    assert len(api.get("/api/v1/installers", "supervisor").get_json()) == 9  # the demo set


def test_deactivating_an_installer_keeps_the_record(api, session):
    body = {
        "code": "RP-02",
        "name": "Eli Novak",
        "provider": "RIV-PRO",
        "seniority": "junior",
        "active": False,
    }
    assert api.post("/api/v1/installers", "admin", body).get_json()["active"] is False
    assert _count(session, Installer) == 9
    codes = [(i["code"], i["active"]) for i in api.get("/api/v1/installers", "provider:RIV-PRO").get_json()]
    assert codes == [("RP-01", True), ("RP-02", False)]


# --- the CSV loader -------------------------------------------------------------------------------


@pytest.fixture
def csv_dir(tmp_path: Path) -> Path:
    for path in demo.DATA.glob("*.csv"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_load_reference_loads_every_file_and_can_be_run_again(cli, session, csv_dir):
    result = cli("load-reference", str(csv_dir))
    assert result.exit_code == 0, result.output
    assert "providers: 6 rows" in result.output and "coverage: 20 rows" in result.output
    counts = {m: _count(session, m) for m in (City, Provider, Coverage, Installer, ProductModel)}
    assert counts == {City: 5, Provider: 6, Coverage: 20, Installer: 9, ProductModel: 7}
    events = _count(session, AuditEvent)
    # After an edit, loading again updates in place.
    text = (
        (csv_dir / "installers.csv")
        .read_text()
        .replace("RP-02,Eli Novak,RIV-PRO,junior,true", "RP-02,Eli Novak,RIV-PRO,regular,false")
    )
    (csv_dir / "installers.csv").write_text(text)
    assert cli("load-reference", str(csv_dir)).exit_code == 0
    assert {m: _count(session, m) for m in counts} == counts
    assert _count(session, AuditEvent) == events + 1
    eli = session.scalars(select(Installer).where(Installer.code == "RP-02")).one()
    assert (eli.seniority, eli.active) == ("regular", False)


@pytest.mark.parametrize(
    ("file", "find", "replace", "where"),
    [
        (
            "coverage.csv",
            "SPR-HEAT,Springfield,gas_wh,10",
            "SPR-HEAT,Springfield,gas_wh,ten",
            "coverage.csv line 3: priority",
        ),
        (
            "coverage.csv",
            "RIV-PRO,Riverton,gas_wh,10",
            "RIV-PRO,Gotham,gas_wh,10",
            "coverage.csv line 8: city",
        ),
        ("cities.csv", "Riverton,America/Denver", "Riverton,America/Dever", "cities.csv line 3: timezone"),
        (
            "installers.csv",
            "SH-02,Ben Carter,SPR-HEAT,regular,true",
            "SH-02,Ben Carter,SPR-HEAT,regular,maybe",
            "installers.csv line 3: active",
        ),
        ("installers.csv", "SQ-01,Chen Wei,", "SQ-01,,", "installers.csv line 4: name"),
        (
            "providers.csv",
            "code,name,phone,active",
            "code,name,phone,active,colour",
            "providers.csv line 2: colour",
        ),
        (
            "providers.csv",
            "+1 217 555 0102,true",
            "+1 217 555 0102,true,surplus",
            "providers.csv line 3: _row",
        ),
        ("product_models.csv", "code,name,product_line", "code,name,line", "product_models.csv line 2: line"),
    ],
)
def test_a_bad_csv_names_file_line_and_field_and_loads_nothing(
    cli, session, csv_dir, file, find, replace, where
):
    path = csv_dir / file
    text = path.read_text()
    assert find in text
    path.write_text(text.replace(find, replace))
    result = cli("load-reference", str(csv_dir))
    assert result.exit_code == 2
    assert where in result.output, result.output
    assert "Traceback" not in result.output
    assert (_count(session, City), _count(session, Provider), _count(session, AuditEvent)) == (0, 0, 0)


def test_load_reference_of_a_missing_folder_fails_cleanly(cli, tmp_path):
    result = cli("load-reference", str(tmp_path / "nope"))
    assert result.exit_code == 2 and "does not exist" in result.output
