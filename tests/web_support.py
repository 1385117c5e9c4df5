"""Shared set-up for the pages' tests: passwords for demo users, signing in with a test client."""

from __future__ import annotations

import re

from dispatch import auth
from dispatch.platform.actors import Actor

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def set_password(session_factory, name: str, password: str = PASSWORD) -> None:
    """Give an existing user a password for the pages."""
    with session_factory() as session:
        auth.set_password(session, Actor.system("test"), auth.find_user(session, name), password)
        session.commit()


def csrf_token(client, path: str = "/") -> str:
    """The CSRF token a page of this client's session carries (its meta tag)."""
    found = _CSRF.search(client.get(path).get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def login(client, name: str, password: str = PASSWORD, *, environ_base: dict | None = None, **extra: str):
    """Post the login form as a browser would (its CSRF token included); returns the response."""
    token = csrf_token(client)
    data = {"name": name, "password": password, "csrf_token": token, **extra}
    return client.post("/login", data=data, environ_base=environ_base or {})


def form_key(html: str, action: str) -> str:
    """The one-time key of the form posting to `action` on this page."""
    form = html[html.index(f'action="{action}"') :]
    found = re.search(r'name="form_key" value="([^"]+)"', form)
    assert found, f"no form_key in the form posting to {action}"
    return found.group(1)


def post_form(client, path: str, data: dict, page: str):
    """Post a page's form as a browser would: its CSRF token and one-time key included."""
    html = client.get(page).get_data(as_text=True)
    body = {"csrf_token": csrf_token(client, page), "form_key": form_key(html, path), **data}
    return client.post(path, data=body)
