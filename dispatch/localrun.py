"""scripts/run's start-up steps, in one process: migrate, load the demo set once, keep its tokens.

`python -m dispatch.localrun --tokens var/demo-tokens.txt` (settings as for every process).
Tokens and passwords are stored only as hashes, so the demo users' secrets exist in one place:
the tokens file, written with mode 600 (name, token and password for the pages on each line).
When that file is missing, or was written for another database, each demo user is issued a new
token and password (the old tokens keep working until revoked).

scripts/run also keeps the simulator's webhook signing secret and the pages' session key under
var/ (`signing_secret`).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url

from dispatch import auth
from dispatch.audit.trail import make_session_factory
from dispatch.models import User
from dispatch.platform import migrate
from dispatch.platform.actors import Actor
from dispatch.platform.config import MIN_SIGNING_SECRET_LENGTH, ConfigError, load_settings
from dispatch.platform.db import make_engine
from dispatch.reference import demo

RUNNER = Actor.system("scripts/run")


def tokens_header(database_url: str) -> str:
    """First line of the tokens file: which database its tokens belong to (no password)."""
    return f"# Dispatch demo tokens for {make_url(database_url).render_as_string(hide_password=True)}"


def demo_tokens(database_url: str, tokens_file: Path) -> dict[str, str]:
    """Load the demo set on first use and return {user name: token}, kept in tokens_file."""
    return {name: token for name, (token, _password) in demo_logins(database_url, tokens_file).items()}


def demo_logins(database_url: str, tokens_file: Path) -> dict[str, tuple[str, str]]:
    """Load the demo set on first use and return {user name: (token, password)}, kept in
    tokens_file (one line per user: name, token, password, tab-separated). A file from before
    passwords keeps its tokens and gets a password per user."""
    header = tokens_header(database_url)
    kept: dict[str, list[str]] = {}
    if tokens_file.is_file():
        lines = tokens_file.read_text().splitlines()
        if lines and lines[0] == header:
            kept = {
                parts[0]: parts[1:]
                for parts in (line.split("\t") for line in lines if line.startswith("demo-"))
            }
    if kept and all(len(values) >= 2 for values in kept.values()):
        return {name: (values[0], values[1]) for name, values in kept.items()}
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            tokens = {name: values[0] for name, values in kept.items()} or demo.seed(session)
            if not tokens:  # loaded before, but its tokens file is gone: issue new tokens
                users = session.scalars(
                    select(User).where(User.name.like("demo-%"), User.active.is_(True)).order_by(User.id)
                )
                tokens = {u.name: auth.issue_token(session, RUNNER, u, label="demo") for u in users}
            passwords = {}
            for name in tokens:
                password = auth.generate_password()
                auth.set_password(session, RUNNER, auth.find_user(session, name), password)
                passwords[name] = password
            session.commit()
    finally:
        engine.dispose()
    body = "".join(f"{name}\t{token}\t{passwords[name]}\n" for name, token in tokens.items())
    _write_private(
        tokens_file,
        f"{header}\n# one line per demo user: name, bearer token (Authorization: Bearer <token>), "
        f"password for the pages\n{body}",
    )
    return {name: (token, passwords[name]) for name, token in tokens.items()}


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 600, replacing it in one step (never half written)."""
    tmp = path.with_suffix(".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def signing_secret(secret_file: Path) -> str:
    """This installation's SIMULATOR_SIGNING_SECRET (or SECRET_KEY): generated on first use, then
    read from the file."""
    if secret_file.is_file():
        kept = secret_file.read_text().strip()
        if len(kept) >= MIN_SIGNING_SECRET_LENGTH:
            return kept
    secret = secrets.token_urlsafe(32)  # 256 random bits
    _write_private(secret_file, secret + "\n")
    return secret


def main(argv: list[str] | None = None) -> int:
    """Migrate the configured database and, unless told not to, make sure the demo set is there."""
    parser = argparse.ArgumentParser(prog="python -m dispatch.localrun", description=__doc__)
    parser.add_argument("--tokens", type=Path, help="the demo tokens file (omit: no demo data)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(webhooks=False)  # migrating and seeding sign no webhook
    except (ConfigError, ValueError) as exc:
        print(f"configuration: {exc}", file=sys.stderr)
        return 1
    migrate.upgrade(settings["MIGRATION_DATABASE_URL"] or settings["DATABASE_URL"])
    if args.tokens:
        demo_tokens(settings["DATABASE_URL"], args.tokens)
    return 0


if __name__ == "__main__":
    sys.exit(main())
