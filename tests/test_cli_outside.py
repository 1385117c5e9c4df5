"""The operator command run where it should not be: no database created in the current folder,
no traceback, one message saying which DATABASE_URL it would use and how to set it; and its help
shows the operator's commands, not Flask's development server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DISPATCH = str(Path(sys.executable).parent / "dispatch")


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")}
    return subprocess.run(
        [DISPATCH, *args], cwd=cwd, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_outside_the_repository_it_creates_nothing_and_says_how_to_set_the_database(tmp_path):
    result = _run(["user", "list"], tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    assert "DATABASE_URL sqlite:///var/dispatch.sqlite3" in result.stderr
    assert "DISPATCH_DATABASE_URL=" in result.stderr and "DISPATCH_CONFIG=" in result.stderr
    assert list(tmp_path.iterdir()) == []  # no var/, no empty database


def test_a_database_that_cannot_be_used_is_one_message_not_a_traceback(tmp_path):
    (tmp_path / "empty.sqlite3").touch()
    result = _run(["user", "list"], tmp_path, DISPATCH_DATABASE_URL="sqlite:///empty.sqlite3")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "no such table" in result.stderr and "dispatch migrate" in result.stderr
    unreachable = "postgresql+psycopg://dispatch:hunter2@127.0.0.1:9/dispatch"
    result = _run(["token", "list"], tmp_path, DISPATCH_DATABASE_URL=unreachable)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "127.0.0.1:9/dispatch cannot be used" in result.stderr
    assert "hunter2" not in result.stderr  # the password is never printed


def test_help_shows_the_operators_commands_and_where_the_server_is(tmp_path):
    result = _run(["--help"], tmp_path)
    assert result.returncode == 0
    commands = result.stdout.split("Commands:")[1].split()
    assert "migrate" in commands and "user" in commands and "openapi" in commands
    assert "run" not in commands and "shell" not in commands and "routes" not in commands
    assert (
        "--app" not in result.stdout and "--debug" not in result.stdout and "--env-file" not in result.stdout
    )
    assert "scripts/run" in result.stdout and "gunicorn" in result.stdout
    written = _run(["openapi", "write", "openapi.json"], tmp_path)  # needs no database, makes none
    assert written.returncode == 0, written.stderr
    assert '"openapi": "3.0.3"' in (tmp_path / "openapi.json").read_text()
    (tmp_path / "openapi.json").unlink()
    assert list(tmp_path.iterdir()) == []
