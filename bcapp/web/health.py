"""Health endpoints for load balancers."""

from __future__ import annotations

from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

from bcapp.web.context import service

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """200 while the process serves."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """200 when Redis answers, 503 otherwise."""
    if not service().ready():
        return jsonify(status="unavailable", redis="down"), 503
    return jsonify(status="ok", redis="up"), 200
