"""Users and bearer tokens from the operator's command line; tokens are stored hashed only."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import select, text

from dispatch.cli import main
from dispatch.models import ApiToken, User


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
