"""Tokens: who is calling, with which role, and refusals that say why."""

import time

import jwt
import pytest

from shared.auth import TokenError, decode_token, issue_token
from shared.settings import Settings
from shared.vocabulary.roles import Role


def test_a_development_token_round_trips() -> None:
    settings = Settings()
    token = issue_token(settings, Role.STORE_STAFF, "li", store="xiaoshi-fish")
    principal = decode_token(settings, token)
    assert (principal.subject, principal.role, principal.store) == ("li", Role.STORE_STAFF, "xiaoshi-fish")


def test_store_staff_must_name_their_store() -> None:
    with pytest.raises(TokenError, match="--store"):
        issue_token(Settings(), Role.STORE_STAFF, "li")


def test_expired_and_forged_tokens_are_refused() -> None:
    settings = Settings()
    expired = jwt.encode({"sub": "a", "role": "shopper", "exp": int(time.time()) - 10}, settings.jwt_dev_key)
    with pytest.raises(TokenError, match="expired"):
        decode_token(settings, expired)
    guessed = "a-guessed-key-that-is-long-enough-for-hs256-signing"
    forged = jwt.encode({"sub": "a", "role": "admin", "exp": int(time.time()) + 60}, guessed)
    with pytest.raises(TokenError, match="not valid"):
        decode_token(settings, forged)


def test_an_unknown_role_is_refused() -> None:
    settings = Settings()
    token = jwt.encode({"sub": "a", "role": "king", "exp": int(time.time()) + 60}, settings.jwt_dev_key)
    with pytest.raises(TokenError, match="king"):
        decode_token(settings, token)


def test_production_verifies_with_the_public_key_and_never_signs() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = Settings(jwt_public_key=public, jwt_algorithm="RS256")
    with pytest.raises(TokenError, match="identity provider"):
        issue_token(settings, Role.SHOPPER, "a")
    token = jwt.encode({"sub": "a", "role": "shopper", "exp": int(time.time()) + 60}, key, algorithm="RS256")
    assert decode_token(settings, token).role is Role.SHOPPER
    dev = issue_token(Settings(), Role.ADMIN, "mallory")
    with pytest.raises(TokenError):
        decode_token(settings, dev)


async def test_signing_in_by_role_is_refused_unless_development_allows_it() -> None:
    import httpx
    from fastapi import FastAPI

    from shared.auth import session_router

    async def sign_in(settings: Settings) -> httpx.Response:
        app = FastAPI()
        app.state.settings = settings
        app.include_router(session_router())
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.post("/auth/session", json={"role": "admin", "subject": "mallory"})

    refused = await sign_in(Settings())
    assert refused.status_code == 403
    assert "LINLI_ALLOW_DEV_SIGN_IN" in refused.json()["detail"]
    allowed = await sign_in(Settings(allow_dev_sign_in=True))
    assert allowed.status_code == 200
    assert "httponly" in allowed.headers["set-cookie"].lower()
