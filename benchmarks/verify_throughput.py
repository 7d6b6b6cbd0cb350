"""Callback verification cost: bcapp's full verifier against a bare PyJWT decode (baseline).

Prints verifications per second for: the baseline (`jwt.decode` with HS256 and audience only),
bcapp's verifier on a valid token, and bcapp's refusals of a forged and of an oversized token.
Refusals should cost no more than acceptance, or forged payloads become a cheap attack.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt

from bcapp.errors import BcappError
from bcapp.signing import verify_signed_payload_jwt
from bcapp.simulator.signing import jwt_claims, sign_jwt

CLIENT_ID, SECRET = "bench-client", "bench-secret-0123456789abcdef"
ROUNDS = 20000


def rate(call: Callable[[], object], rounds: int = ROUNDS) -> float:
    """Calls per second of `call` over `rounds` calls."""
    started = time.perf_counter()
    for _ in range(rounds):
        call()
    return rounds / (time.perf_counter() - started)


def refused(token: str) -> Callable[[], object]:
    """A call that verifies `token` and expects a refusal."""

    def call() -> object:
        try:
            verify_signed_payload_jwt(token, CLIENT_ID, [SECRET], time.time(), 30)
        except BcappError as error:
            return error
        raise AssertionError("expected a refusal")

    return call


def main() -> None:
    """Print the figures."""
    user = {"id": 2, "email": "staff@example.com"}
    token = sign_jwt(jwt_claims(CLIENT_ID, "abc123", user, user), SECRET)
    forged = sign_jwt(jwt_claims(CLIENT_ID, "abc123", user, user), "wrong-secret")
    oversized = "a" * 9000

    baseline = rate(lambda: jwt.decode(token, SECRET, algorithms=["HS256"], audience=CLIENT_ID))
    figures = {
        "bcapp verify (valid)": rate(
            lambda: verify_signed_payload_jwt(token, CLIENT_ID, [SECRET], time.time(), 30)
        ),
        "bcapp refuse (forged)": rate(refused(forged)),
        "bcapp refuse (9 KB)": rate(refused(oversized)),
    }
    print(f"baseline jwt.decode: {baseline:,.0f}/s")
    for name, value in figures.items():
        print(f"{name}: {value:,.0f}/s  ratio to baseline {value / baseline:.2f}")


if __name__ == "__main__":
    main()
