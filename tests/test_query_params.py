"""A misspelt filter is a 422 naming it, never a wider list: every GET list refuses unknown parameters."""

from __future__ import annotations

import pytest

from tests.test_security_matrix import PERMISSIONS

PUBLIC = {"/api/v1/health"}


def _lists(app) -> list[str]:
    """Every GET route of the API without a path parameter: the lists (and their filters)."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods
        and rule.rule.startswith("/api/v1/")
        and "<" not in rule.rule
        and rule.rule not in PUBLIC
    )


def _reader(path: str) -> str:
    """A role that may read the list (a provider as one provider)."""
    roles = PERMISSIONS[("GET", path)]
    role = "supervisor" if "supervisor" in roles else sorted(roles)[0]
    return "provider:SPR-HEAT" if role == "provider" else role


def _refused(response, name: str) -> None:
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == 422 and name in body["errors"] and name in body["message"]


@pytest.mark.parametrize(
    ("path", "who", "typo"),
    [
        ("/api/v1/complaints?stauts=open", "supervisor", "stauts"),
        ("/api/v1/complaints?stauts=open", "provider:SPR-HEAT", "stauts"),
        ("/api/v1/callbacks?lmit=1", "callback", "lmit"),
        ("/api/v1/callbacks?lmit=1", "supervisor", "lmit"),
    ],
)
def test_a_misspelt_filter_on_complaints_or_callbacks_is_a_422_naming_it(api, path, who, typo):
    response = api.get(path, who)
    _refused(response, typo)
    assert set(response.get_json()["errors"]) == {typo}


def test_every_list_refuses_an_unknown_query_parameter_and_names_it(api, app):
    lists = _lists(app)
    assert {"/api/v1/complaints", "/api/v1/callbacks", "/api/v1/work-orders", "/api/v1/cities"} <= set(lists)
    for path in lists:
        who = _reader(path)
        assert api.get(path, who).status_code not in (401, 403), path  # the role may read it
        _refused(api.get(f"{path}?no_such_filter=1", who), "no_such_filter")
