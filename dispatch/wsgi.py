"""WSGI entry point for gunicorn: `gunicorn dispatch.wsgi:app`."""

import gc

from dispatch.app import create_app

app = create_app()
# The app's long-lived objects (mappers, schemas, routes: hundreds of thousands) go to the
# permanent generation, so that the collector stops walking them on every full collection (it
# showed as latency spikes of tens of milliseconds under load).
gc.freeze()
