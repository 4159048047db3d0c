"""Tokens and roles: who is calling, and a FastAPI dependency that insists on knowing.

A token is a JWT with `sub`, `role` and, for store staff, `store` (the shop, stall or market
they work for). Browsers cannot put headers on an EventSource, so the same token is also
accepted from an HttpOnly session cookie set by `POST /auth/session`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from shared.settings import Settings, get_settings
from shared.vocabulary.roles import Role


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    store: str | None = None  # a location id, for store staff
    name: str | None = None

    @property
    def key(self) -> str:
        """A stable identity for idempotency keys and ownership checks."""
        return f"{self.role.value}:{self.subject}"


class TokenError(Exception):
    pass


def issue_token(
    settings: Settings,
    role: Role,
    subject: str,
    store: str | None = None,
    name: str | None = None,
    ttl_s: int = 7 * 24 * 3600,
) -> str:
    if not settings.dev_signing:
        raise TokenError(
            "tokens are issued by the identity provider when LINLI_JWT_PUBLIC_KEY is set; "
            "the development signing key is not in use"
        )
    if role is Role.STORE_STAFF and not store:
        raise TokenError("a store_staff token needs --store: the shop, stall or market they work for")
    now = int(time.time())
    claims: dict[str, object] = {"sub": subject, "role": role.value, "iat": now, "exp": now + ttl_s}
    if store:
        claims["store"] = store
    if name:
        claims["name"] = name
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_dev_key, algorithm="HS256")


def decode_token(settings: Settings, token: str) -> Principal:
    key = settings.jwt_dev_key if settings.dev_signing else str(settings.jwt_public_key)
    algorithm = "HS256" if settings.dev_signing else settings.jwt_algorithm
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            options={"require": ["sub", "exp"]},
        )
    except jwt.ExpiredSignatureError as e:
        raise TokenError("the token has expired; sign in again") from e
    except jwt.PyJWTError as e:
        raise TokenError(f"the token is not valid: {e}") from e
    try:
        role = Role(str(claims.get("role")))
    except ValueError as e:
        raise TokenError(
            f"the token's role {claims.get('role')!r} is not one of {', '.join(r.value for r in Role)}"
        ) from e
    store = claims.get("store")
    if role is Role.STORE_STAFF and not store:
        raise TokenError("a store_staff token must name its store")
    return Principal(subject=str(claims["sub"]), role=role, store=store, name=claims.get("name"))


def _token_from(request: Request, settings: Settings) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "the Authorization header must be 'Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return value.strip()
    return request.cookies.get(settings.session_cookie)


async def current_principal(request: Request) -> Principal:  # async: inline, not in a thread
    settings: Settings = getattr(request.app.state, "settings", None) or get_settings()
    token = _token_from(request, settings)
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in first: send 'Authorization: Bearer <token>' or the session cookie",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return decode_token(settings, token)
    except TokenError as e:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(e), headers={"WWW-Authenticate": "Bearer"}) from e


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits only the given roles (admin is always admitted)."""
    allowed = frozenset(roles) | {Role.ADMIN}

    async def check(principal: CurrentPrincipal) -> Principal:  # async: FastAPI runs it inline, not in a thread
        if principal.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"a {principal.role.value} may not do this; it needs one of: "
                f"{', '.join(sorted(r.value for r in allowed))}",
            )
        return principal

    return check


class SessionRequest(BaseModel):
    token: str | None = Field(None, description="a token to keep in the session cookie")
    role: Role | None = Field(None, description="development only: sign in with this role")
    subject: str | None = Field(None, min_length=1, max_length=100)
    store: str | None = None


def session_router() -> APIRouter:
    """Sign-in and sign-out: the browser keeps the token in an HttpOnly cookie."""
    router = APIRouter(prefix="/auth", tags=["auth"])

    @router.post("/session")
    def sign_in(body: SessionRequest, request: Request, response: Response) -> dict[str, str | None]:
        settings: Settings = request.app.state.settings
        token = body.token
        if token is None:
            if body.role is None or body.subject is None:
                raise HTTPException(422, "send either a token, or (in development) a role and a subject")
            if not settings.allow_dev_sign_in:
                raise HTTPException(403, "signing in by role is off here (LINLI_ALLOW_DEV_SIGN_IN); send a token")
            try:
                token = issue_token(settings, body.role, body.subject, body.store)
            except TokenError as e:
                raise HTTPException(403, str(e)) from e
        try:
            principal = decode_token(settings, token)
        except TokenError as e:
            raise HTTPException(401, str(e)) from e
        response.set_cookie(
            settings.session_cookie,
            token,
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure,
            max_age=7 * 24 * 3600,
        )
        return {"subject": principal.subject, "role": principal.role.value, "store": principal.store}

    @router.delete("/session", status_code=204)
    def sign_out(request: Request, response: Response) -> None:
        response.delete_cookie(request.app.state.settings.session_cookie)

    @router.get("/me")
    def me(principal: CurrentPrincipal) -> dict[str, str | None]:
        return {"subject": principal.subject, "role": principal.role.value, "store": principal.store}

    return router
