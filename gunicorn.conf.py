"""gunicorn settings for bcapp's own app (read automatically from the working directory): the
ones every app built on bcapp gets with `gunicorn -c python:bcapp.gunicorn` (bcapp/gunicorn.py)."""

from bcapp.gunicorn import *  # noqa: F403
