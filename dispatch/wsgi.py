"""WSGI entry point for gunicorn: `gunicorn dispatch.wsgi:app`."""

from dispatch.app import create_app

app = create_app()
