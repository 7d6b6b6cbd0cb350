"""The verifiers against BigCommerce's own test vectors (node-bigcommerce and
bigcommerce-api-python test suites and BigCommerce's docs; see docs/protocol.md)."""

from __future__ import annotations

import time

import pytest

from bcapp.errors import BadRequest, Unauthorized
from bcapp.signing import (
    deep_link,
    verify_legacy_signature,
    verify_legacy_signed_payload,
    verify_signed_payload_jwt,
)
from bcapp.simulator.signing import jwt_claims, legacy_signed_payload, sign_jwt

# A1/A2: node-bigcommerce test/bigcommerce.js @ bed2038
NODE_SECRET = NODE_CLIENT_ID = "123456abcdef"
A1 = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJhdWQiOiIxMjM0NTZhYmNkZWYiLCJpc3MiOiJiYyIsImlhdCI6MTYy"
    "Mjc0MjcyNywibmJmIjoxNjIyNzQyNzIyLCJleHAiOjM2MjI4MjkxMjcsImp0aSI6ImY0NGI1NmU5LTI1ZTUtNDQ3OC05OD"
    "UyLTQwMjdlNzMyYmY0OSIsInN1YiI6InN0b3Jlcy8xMmFiYyIsInVzZXIiOnsiaWQiOjIzNjksImVtYWlsIjoidGVzdEB0"
    "ZXN0LnRlc3QifSwib3duZXIiOnsiaWQiOjIzNjksImVtYWlsIjoidGVzdEB0ZXN0LnRlc3QifSwidXJsIjoiLyJ9.QRTvS1"
    "SVBEPrnBb2woA16sbFvNjb8b0vzwF17sVNYV4"
)
A2 = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJhdWQiOiIxMjM0NTZhYmNkZWYiLCJpc3MiOiJiYyIsImlhdCI6MTYy"
    "Mjc0MjcyNywibmJmIjoxNjIyNzQyNzIyLCJleHAiOjMxMjI4MjkxMjcsImp0aSI6ImY0NGI1NmU5LTI1ZTUtNDQ3OC05OD"
    "UyLTQwMjdlNzMyYmY0OSIsInN1YiI6InN0b3Jlcy8xMmFiYyIsInVzZXIiOnsiaWQiOjIzNjksImVtYWlsIjoidGVzdEB0"
    "ZXN0LnRlc3QifSwib3duZXIiOnsiaWQiOjIzNjksImVtYWlsIjoidGVzdEB0ZXN0LnRlc3QifSwidXJsIjoiLyJ9.61QXFp"
    "-vG9yN7KK9M56PMOdv5lWAFt4u4jv8C8slSqA"
)
# A3-A5: node-bigcommerce legacy payloads
A3 = (
    "eyJmb28iOiJmb28ifQ==.YjMzMTQ2ZGU4ZTUzNWJiOTI3NTI1ODJmNzhiZGM5NzBjNGQ3MjZkZDdkMDY1MjdkZGYxZDA0N"
    "GZjNDVjYmNkMA=="
)
A4 = (
    "eyJmb28iOiJmb28ifQ==.YjMzMTQ2ZGU4ZTUzNWJiOTI3NTI1ODJmNzhiZGM5NzBjNGQ3MjZkZDdkMDY1MjdkZGYxZDA0N"
    "GZjNDVjYmNkMQ=="
)
A5 = "eyJmb28iOiJmb28ifQ==.Zm9v"
# A6/A7: bigcommerce/bigcommerce-api-python:tests/test_connection.py @ 599b27e
PY_SECRET = "ntb1kcxa1do55wf0h25ps7h94fnsoi6"
A6 = (
    "eyJ1c2VyIjp7ImlkIjo3MiwiZW1haWwiOiJqYWNraWUuaHV5bmhAYmlnY29tbWVyY2UuY29tIn0sInN0b3JlX2hhc2giOiJs"
    "Y3R2aDV3bSIsInRpbWVzdGFtcCI6MTM4OTA1MDMyNy42NTc5NjI2fQ==.ZTViYzAzNTM2MGFjM2M2YTVkZjFmNzFlYTk4NTY1"
    "ODZiMzkxODZmZDExZTdjZGFmOGEzN2E3YTEzNGQ0MmExYw=="
)
A7 = (
    "notevenreal7ImlkIjo3MiwiZW1haWwiOiJqYWNraWUuaHV5bmhAYmlnY29tbWVyY2UuY29tIn0sInN0b3JlX2hhc2giOiJs"
    "Y3R2aDV3bSIsInRpbWVzdGFtcCI6MTM4OTA1MDMyNy42NTc5NjI2fQ==.quitefakeTM2MGFjM2M2YTVkZjFmNzFlYTk4NTY1"
    "ODZiMzkxODZmZDExZTdjZGFmOGEzN2E3YTEzNGQ0MmExYw=="
)
# B1/B2: generated from the docs' examples with secret `example_client_secret`
EXAMPLE_SECRET, EXAMPLE_CLIENT_ID = "example_client_secret", "U8RphZeDjQc4kLVSzNjePo0CMjq7yOg"
B1 = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJVOFJwaFplRGpRYzRrTFZTek5qZVBvMENNanE3eU9nIiwiaXN"
    "zIjoiYmMiLCJpYXQiOjE2NTkwMzE2MjYsIm5iZiI6MTY1OTAzMTYyMSwiZXhwIjoxNjU5MTE4MDI2LCJqdGkiOiJjNWYwYmN"
    "mNS1hNTA0LTRhZTYtOGRjYy0wZTQwZWFhNWEwNzAiLCJzdWIiOiJzdG9yZXMvejR6bjN3byIsInVzZXIiOnsiaWQiOjk4Nz"
    "Y1NDMsImVtYWlsIjoiYXV0aG9yaXplZF91c2VyQGV4YW1wbGUuY29tIiwibG9jYWxlIjoiZW4tVVMifSwib3duZXIiOnsia"
    "WQiOjc2NTQzMjEsImVtYWlsIjoib3duZXJAZXhhbXBsZS5jb20ifSwidXJsIjoiLyIsImNoYW5uZWxfaWQiOm51bGx9.1504"
    "CA_iKuQqpaUO7Vh3PtXVse9_npM4FTst-95TzYg"
)
B2 = (
    "eyJ1c2VyIjp7ImlkIjo5MTI4LCJlbWFpbCI6InVzZXJAbXliaWdjb21tZXJjZS5jb20ifSwib3duZXIiOnsiaWQiOjkxMjgs"
    "ImVtYWlsIjoidXNlckBteWJpZ2NvbW1lcmNlLmNvbSJ9LCJjb250ZXh0Ijoic3RvcmVzL3o0em4zd28iLCJzdG9yZV9oYXNo"
    "IjoiejR6bjN3byIsInRpbWVzdGFtcCI6MTQ2OTgyMzg5Mi45MTIzOTg4fQ==.NzA1OGQyNWMyNjBkMWIwZDliNmE2NDI1Y2Vh"
    "MDRmZjI2N2ZlMjRlOTFlYWIzYzcwNjRjOTc3ZDM2YTY5ZDRiNg=="
)
B1_IAT, B1_NBF, B1_EXP = 1659031626, 1659031621, 1659118026


def test_a1_node_vector_verifies_with_the_real_clock_when_lifetime_is_uncapped() -> None:
    claims = verify_signed_payload_jwt(A1, NODE_CLIENT_ID, [NODE_SECRET], time.time(), 30, None)
    assert claims.store_hash == "12abc"
    assert claims.user.id == 2369 and claims.owner and claims.owner.id == 2369
    assert claims.nonce == "bc:f44b56e9-25e5-4478-9852-4027e732bf49"


def test_a1_lives_63_years_so_the_default_lifetime_cap_refuses_it() -> None:
    """A1 was minted by a test suite with exp in 2084; BigCommerce's own live 24 h."""
    with pytest.raises(Unauthorized) as caught:
        verify_signed_payload_jwt(A1, NODE_CLIENT_ID, [NODE_SECRET], time.time(), 30)
    assert caught.value.reason == "jwt_lifetime_too_long"


def test_a1_is_refused_for_another_client_id() -> None:
    with pytest.raises(Unauthorized):
        verify_signed_payload_jwt(A1, "someone-else", [NODE_SECRET], time.time(), 30, None)


def test_a2_bad_signature_is_refused() -> None:
    with pytest.raises(Unauthorized) as caught:
        verify_signed_payload_jwt(A2, NODE_CLIENT_ID, [NODE_SECRET], time.time(), 30, None)
    assert caught.value.reason == "jwt_bad_signature"


def test_a3_legacy_signature_verifies() -> None:
    data, _ = verify_legacy_signature(A3, [NODE_SECRET])
    assert data == {"foo": "foo"}


def test_a3_as_a_callback_names_no_store_and_is_refused() -> None:
    with pytest.raises(Unauthorized):
        verify_legacy_signed_payload(A3, [NODE_SECRET], time.time(), 600, 30)


@pytest.mark.parametrize("payload", [A4, A5])
def test_a4_a5_legacy_wrong_signatures_are_refused(payload: str) -> None:
    with pytest.raises(Unauthorized):
        verify_legacy_signature(payload, [NODE_SECRET])


def test_a6_python_legacy_vector_verifies_at_its_own_time() -> None:
    data, _ = verify_legacy_signature(A6, [PY_SECRET])
    assert data["user"] == {"id": 72, "email": "jackie.huynh@bigcommerce.com"}
    claims = verify_legacy_signed_payload(A6, [PY_SECRET], 1389050327.7 + 5, 600, 30)
    assert claims.store_hash == "lctvh5wm" and claims.user.id == 72 and claims.owner is None


def test_a6_is_stale_with_the_real_clock() -> None:
    with pytest.raises(Unauthorized) as caught:
        verify_legacy_signed_payload(A6, [PY_SECRET], time.time(), 600, 30)
    assert caught.value.reason == "legacy_stale"


def test_a7_corrupted_legacy_payload_is_refused_without_crashing() -> None:
    with pytest.raises(Unauthorized) as caught:
        verify_legacy_signature(A7, [PY_SECRET])
    assert caught.value.reason == "legacy_bad_signature"


def test_b1_verifies_inside_its_window_as_the_user_not_the_owner() -> None:
    claims = verify_signed_payload_jwt(B1, EXAMPLE_CLIENT_ID, [EXAMPLE_SECRET], B1_IAT + 60, 0)
    assert claims.store_hash == "z4zn3wo"
    assert claims.user.id == 9876543 and claims.owner and claims.owner.id == 7654321
    assert claims.locale == "en-US" and claims.channel_id is None and claims.url == "/"


def test_b1_expired_with_the_real_clock() -> None:
    with pytest.raises(Unauthorized) as caught:
        verify_signed_payload_jwt(B1, EXAMPLE_CLIENT_ID, [EXAMPLE_SECRET], time.time(), 30)
    assert caught.value.reason == "jwt_expired"


def test_b1_before_nbf_needs_leeway() -> None:
    early = B1_NBF - 4
    with pytest.raises(Unauthorized):
        verify_signed_payload_jwt(B1, EXAMPLE_CLIENT_ID, [EXAMPLE_SECRET], early, 0)
    with pytest.raises(Unauthorized):  # iat is 9 s ahead of `early`
        verify_signed_payload_jwt(B1, EXAMPLE_CLIENT_ID, [EXAMPLE_SECRET], early, 5)
    claims = verify_signed_payload_jwt(B1, EXAMPLE_CLIENT_ID, [EXAMPLE_SECRET], early, 10)
    assert claims.store_hash == "z4zn3wo"


def test_b1_leeway_edges_at_expiry() -> None:
    verify_signed_payload_jwt(B1, EXAMPLE_CLIENT_ID, [EXAMPLE_SECRET], B1_EXP + 29, 30)
    with pytest.raises(Unauthorized):
        verify_signed_payload_jwt(B1, EXAMPLE_CLIENT_ID, [EXAMPLE_SECRET], B1_EXP + 31, 30)


def test_b1_wrong_client_id_is_refused() -> None:
    with pytest.raises(Unauthorized):
        verify_signed_payload_jwt(B1, "another-app", [EXAMPLE_SECRET], B1_IAT + 60, 0)


def test_b2_legacy_doc_example_verifies_and_user_is_owner() -> None:
    claims = verify_legacy_signed_payload(B2, [EXAMPLE_SECRET], 1469823892.9 + 1, 600, 30)
    assert claims.store_hash == "z4zn3wo"
    assert claims.owner is not None and claims.user.id == claims.owner.id == 9128


def test_legacy_accepts_url_safe_alphabet_and_missing_padding() -> None:
    payload = legacy_signed_payload(
        {"store_hash": "abc123", "user": {"id": 5, "email": "e"}, "timestamp": time.time()},
        "s3cret",
    )
    body, signature = payload.split(".")
    variant = body.rstrip("=").replace("+", "-").replace("/", "_") + "." + signature.rstrip("=")
    claims = verify_legacy_signed_payload(variant, ["s3cret"], time.time(), 600, 30)
    assert claims.store_hash == "abc123"


def test_previous_secret_is_accepted_during_rotation() -> None:
    user = {"id": 3, "email": "x@example.com"}
    token = sign_jwt(jwt_claims("cid", "abc123", user, user), "old-secret")
    claims = verify_signed_payload_jwt(token, "cid", ["new-secret", "old-secret"], time.time(), 30)
    assert claims.user.id == 3
    with pytest.raises(Unauthorized):
        verify_signed_payload_jwt(token, "cid", ["new-secret"], time.time(), 30)


def malleate(token: str) -> str:
    """The same token with the signature's last character swapped for its sibling.

    A 32-byte HMAC takes 43 base64url characters; the last one's two low bits are padding, so
    flipping its lowest bit changes the text but not the decoded signature.
    """
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]


def test_malleated_signature_is_refused() -> None:
    """PyJWT >= 2.13 decodes base64url strictly, so a non-canonical twin never verifies.

    (PyJWT 2.12.1 accepted it; the replay guard keys on `jti` either way, and the
    route tests replay a twin after its original.)
    """
    user = {"id": 3, "email": "x@example.com"}
    token = sign_jwt(jwt_claims("cid", "abc123", user, user), "secret")
    twin = malleate(token)
    assert twin != token
    assert verify_signed_payload_jwt(token, "cid", ["secret"], time.time(), 30).nonce
    with pytest.raises(Unauthorized):
        verify_signed_payload_jwt(twin, "cid", ["secret"], time.time(), 30)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/", "/"),
        ("/products/5?tab=1", "/products/5?tab=1"),
        ("//evil.example/", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("\t//evil.example", "/"),
        ("/a\r\nSet-Cookie: x", "/"),
        (None, "/"),
        (5, "/"),
        ("/" + "a" * 3000, "/"),
    ],
)
def test_deep_link_stays_inside_the_app(value: object, expected: str) -> None:
    assert deep_link(value) == expected


def test_oversized_token_is_refused_before_decoding() -> None:
    with pytest.raises(BadRequest):
        verify_signed_payload_jwt("a" * 9000, "cid", ["secret"], time.time(), 30)
