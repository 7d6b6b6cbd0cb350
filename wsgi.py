"""The only module-level app, for gunicorn: `gunicorn wsgi:app`."""

from bcapp import create_app

app = create_app()
