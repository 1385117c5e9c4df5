"""The ceilings: the same gunicorn + Flask set-up answering a trivial JSON endpoint, and one
doing a single INSERT into PostgreSQL through the same engine settings as Dispatch.

Served with `gunicorn -c python:dispatch.platform.gunicorn_conf dispatch.bench.ceiling:app`;
BENCH_CEILING_DB names the database (the table is created on start).
"""

from __future__ import annotations

import os

from flask import Flask, jsonify, request
from sqlalchemy import text

from dispatch.platform.db import make_engine

TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS bench_ceiling ("
    "id bigserial PRIMARY KEY, body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
)


def create_app(database_url: str) -> Flask:
    """A Flask app with /json (no database) and /insert (one INSERT, committed)."""
    app = Flask(__name__)
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(7)"))  # several workers start at once
        conn.execute(text(TABLE_DDL))

    @app.get("/json")
    def trivial():
        return jsonify(ok=True)

    @app.post("/insert")
    def insert():
        body = request.get_json()
        with engine.begin() as conn:
            new_id = conn.execute(
                text("INSERT INTO bench_ceiling (body) VALUES (CAST(:b AS jsonb)) RETURNING id"),
                {"b": request.get_data(as_text=True)},
            ).scalar_one()
        return jsonify(id=new_id, items=len(body.get("items", []))), 201

    return app


def _app_from_env() -> Flask:
    return create_app(os.environ["BENCH_CEILING_DB"])


app = _app_from_env() if os.environ.get("BENCH_CEILING_DB") else None
