"""The only module-level app, for gunicorn: `gunicorn wsgi:app`."""

from bcapp.process import configure_process
from bcapp.web import create_app
from bcapp.web.pages import RequestIdFilter

configure_process(RequestIdFilter())
app = create_app()
