"""Users and bearer tokens from the operator's command line; tokens are stored hashed only."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import select, text

from dispatch.cli import main
from dispatch.models import ApiToken, AuditEvent, User


@pytest.fixture
def cli(app):
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))

    return run


def _token(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def _bearer(client, token: str, path: str = "/api/v1/work-orders"):
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def test_create_a_user_with_a_token_that_works_for_its_role(api, cli, client):
    token = _token(cli("user", "create", "alice", "--role", "agent"))
    assert token.startswith("dsp_")
    assert _bearer(client, token).status_code == 200
    assert (
        client.post("/api/v1/cities", json={}, headers={"Authorization": f"Bearer {token}"}).status_code
        == 403
    )
    listed = cli("user", "list").output
    assert any(line.split("\t")[1:3] == ["alice", "agent"] for line in listed.splitlines())


def test_a_provider_user_needs_a_provider_and_sees_only_its_orders(api, cli, client, session):
    refused = cli("user", "create", "bob", "--role", "provider")
    assert refused.exit_code == 2 and "needs a provider" in refused.output
    unknown = cli("user", "create", "bob", "--role", "provider", "--provider", "NOPE")
    assert unknown.exit_code == 2 and "unknown provider" in unknown.output
    bound = cli("user", "create", "carol", "--role", "agent", "--provider", "SPR-HEAT")
    assert bound.exit_code == 2 and "only provider users" in bound.output
    assert session.scalars(select(User).where(User.name.in_(["bob", "carol"]))).all() == []

    token = _token(cli("user", "create", "bob", "--role", "provider", "--provider", "RIV-PRO"))
    mine = api.sale(city="Riverton", phone="+1 303 555 0190")["work_orders"][0]
    theirs = api.sale(phone="+1 217 555 0190")["work_orders"][0]
    assert [o["id"] for o in _bearer(client, token).get_json()["items"]] == [mine["id"]]
    assert _bearer(client, token, f"/api/v1/work-orders/{theirs['id']}").status_code == 404


def test_the_database_refuses_a_provider_user_without_a_provider(session):
    session.add(User(name="sneaky", role="provider", provider_id=None))
    with pytest.raises(Exception, match="ck_users_provider_binding"):
        session.flush()
    session.rollback()


def test_a_duplicate_user_name_is_refused(api, cli):
    result = cli("user", "create", "demo-agent", "--role", "agent")
    assert result.exit_code == 2 and "exists" in result.output


def test_token_list_shows_prefixes_never_secrets(api, cli):
    token = _token(cli("token", "create", "demo-supervisor", "--label", "night shift"))
    listing = cli("token", "list").output
    assert token not in listing
    line = next(line for line in listing.splitlines() if "night shift" in line)
    prefix, user, role, state, label = line.split("\t")
    assert (prefix, user, role, state, label) == (
        token[:12],
        "demo-supervisor",
        "supervisor",
        "active",
        "night shift",
    )


def test_a_revoked_token_gets_401_at_once_and_others_keep_working(api, cli, client):
    first = _token(cli("token", "create", "demo-agent"))
    second = _token(cli("token", "create", "demo-agent"))
    assert _bearer(client, first).status_code == 200
    result = cli("token", "revoke", first[:12])
    assert result.exit_code == 0 and "revoked" in result.output
    response = _bearer(client, first)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.get_json()["message"] == "a valid bearer token is required"
    assert _bearer(client, second).status_code == 200
    listing = cli("token", "list").output
    assert any(line.startswith(first[:12]) and "\trevoked " in line for line in listing.splitlines())
    assert cli("token", "revoke", "dsp_nothere").exit_code == 2


def test_a_token_is_stored_only_as_its_sha256(api, cli, session):
    token = _token(cli("user", "create", "dave", "--role", "callback"))
    row = session.scalars(select(ApiToken).join(User).where(User.name == "dave")).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.prefix == token[:12]
    # Nowhere in the database, in any table, is the secret itself.
    dump = session.execute(
        text(
            "SELECT string_agg(t::text, ' ') FROM ("
            " SELECT row_to_json(x)::text AS t FROM api_tokens x UNION ALL"
            " SELECT row_to_json(x)::text FROM users x UNION ALL"
            " SELECT row_to_json(x)::text FROM audit_events x) s"
        )
    ).scalar_one()
    assert token[12:] not in dump and token not in dump


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer dsp_wrong", "Basic dXNlcjpwYXNz", "Token {token}", "bearer {token}x"],
)
def test_anything_but_a_valid_bearer_token_is_401(api, cli, client, header):
    token = _token(cli("token", "create", "demo-agent"))
    response = client.get("/api/v1/work-orders", headers={"Authorization": header.format(token=token)})
    assert response.status_code == 401 and response.is_json


def test_the_scheme_name_is_case_insensitive(api, cli, client):
    token = _token(cli("token", "create", "demo-agent"))
    assert client.get("/api/v1/work-orders", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_token_create_for_an_unknown_user_fails(api, cli):
    result = cli("token", "create", "nobody")
    assert result.exit_code == 2 and "no user" in result.output


# --- deactivating users and providers (issue 11, holes 2 and 13) -------------------------------

WORK_ORDERS = "/api/v1/work-orders"
DENIED = {"code": 401, "message": "a valid bearer token is required"}


def _denied(response) -> bool:
    body = response.get_json() or {}
    return (
        response.status_code == 401
        and response.headers.get("WWW-Authenticate") == "Bearer"
        and {k: body.get(k) for k in DENIED} == DENIED
    )


def _user_id(api, name: str) -> int:
    users = api.get("/api/v1/users", "admin").get_json()
    return next(u["id"] for u in users if u["name"] == name)


def _audit(session, user_id: int) -> list[tuple[str, str]]:
    session.expire_all()
    return [
        (e.action, e.actor)
        for e in session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == "user", AuditEvent.entity_id == user_id)
            .order_by(AuditEvent.seq)
        )
    ]


def test_an_admin_deactivates_a_user_and_every_token_of_it_gets_401_at_once(api, cli, client, session):
    tokens = [api.tokens["demo-agent"], _token(cli("token", "create", "demo-agent"))]
    revoked = _token(cli("token", "create", "demo-agent"))
    assert cli("token", "revoke", revoked[:12]).exit_code == 0
    assert all(_bearer(client, t).status_code == 200 for t in tokens)
    agent_id = _user_id(api, "demo-agent")

    response = api.post(f"/api/v1/users/{agent_id}/active", "admin", {"active": False})
    assert response.status_code == 200, response.get_json()
    assert {k: response.get_json()[k] for k in ("id", "name", "active")} == {
        "id": agent_id,
        "name": "demo-agent",
        "active": False,
    }
    for token in tokens:
        assert _denied(_bearer(client, token))
        write = client.post("/api/v1/sales", json={}, headers={"Authorization": f"Bearer {token}"})
        assert _denied(write)
    assert api.get(WORK_ORDERS, "supervisor").status_code == 200  # nobody else is touched
    assert (
        next(u for u in api.get("/api/v1/users", "admin").get_json() if u["id"] == agent_id)["active"]
        is False
    )
    assert "inactive" in next(
        line for line in cli("user", "list").output.splitlines() if "demo-agent" in line
    )

    again = api.post(f"/api/v1/users/{agent_id}/active", "admin", {"active": True})
    assert again.status_code == 200 and again.get_json()["active"] is True
    assert all(_bearer(client, t).status_code == 200 for t in tokens)
    assert _denied(_bearer(client, revoked))  # a revoked token stays revoked
    admin = f"user:{_user_id(api, 'demo-admin')} demo-admin (admin)"
    assert _audit(session, agent_id) == [
        ("created", "system:demo-seed"),
        ("deactivated", admin),
        ("activated", admin),
    ]


def test_deactivating_twice_changes_nothing_more_and_bad_calls_are_refused(api, session):
    agent_id = _user_id(api, "demo-agent")
    path = f"/api/v1/users/{agent_id}/active"
    assert api.post(path, "admin", {"active": False}).status_code == 200
    assert api.post(path, "admin", {"active": False}).status_code == 200
    assert [a for a, _ in _audit(session, agent_id)] == ["created", "deactivated"]
    assert api.post("/api/v1/users/9999/active", "admin", {"active": False}).status_code == 404
    for body in ({}, {"active": "no"}):
        refused = api.post(path, "admin", body)
        assert refused.status_code == 422 and list(refused.get_json()["errors"]) == ["active"]
    # An admin cannot lock itself out by mistake.
    admin_id = _user_id(api, "demo-admin")
    itself = api.post(f"/api/v1/users/{admin_id}/active", "admin", {"active": False})
    assert itself.status_code == 422 and list(itself.get_json()["errors"]) == ["active"]
    assert api.get("/api/v1/users", "admin").status_code == 200
    assert api.get("/api/v1/users", "supervisor").status_code == 403


def test_the_operator_deactivates_and_activates_a_user_by_name(api, cli, client, session):
    token = _token(cli("token", "create", "demo-callback"))
    assert _bearer(client, token).status_code == 200
    result = cli("user", "deactivate", "demo-callback")
    assert result.exit_code == 0 and "deactivated" in result.output
    assert _denied(_bearer(client, token))
    assert _denied(api.get(WORK_ORDERS, "callback"))
    result = cli("user", "activate", "demo-callback")
    assert result.exit_code == 0 and "activated" in result.output
    assert _bearer(client, token).status_code == 200
    assert api.get(WORK_ORDERS, "callback").status_code == 200
    user_id = _user_id(api, "demo-callback")
    assert [a for a in _audit(session, user_id) if a[0] != "created"] == [
        ("deactivated", "system:operator"),
        ("activated", "system:operator"),
    ]
    unknown = cli("user", "deactivate", "nobody")
    assert unknown.exit_code == 2 and "no user" in unknown.output


def test_deactivating_a_provider_stops_its_users_tokens_at_once_and_activating_restores_them(api, cli):
    spr = {"code": "SPR-HEAT", "name": "Springfield Heat & Water", "phone": "+1 217 555 0101"}
    order = api.sale(appointment=None)["work_orders"][0]
    second = _token(cli("token", "create", "demo-provider-SPR-HEAT"))
    assert api.get(WORK_ORDERS, "provider:SPR-HEAT").status_code == 200

    assert api.post("/api/v1/providers", "admin", {**spr, "active": False}).status_code == 201
    assert _denied(api.get(WORK_ORDERS, "provider:SPR-HEAT"))
    assert _denied(api.client.get(WORK_ORDERS, headers={"Authorization": f"Bearer {second}"}))
    assert _denied(api.close(order["id"], "SPR-HEAT", 1))
    assert api.get(WORK_ORDERS, "provider:RIV-PRO").status_code == 200  # other providers go on
    assert api.get(WORK_ORDERS, "agent").status_code == 200

    assert api.post("/api/v1/providers", "admin", {**spr, "active": True}).status_code == 201
    assert api.get(WORK_ORDERS, "provider:SPR-HEAT").status_code == 200
    assert api.close(order["id"], "SPR-HEAT", 1).status_code == 200
