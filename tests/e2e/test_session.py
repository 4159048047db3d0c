"""The browser keeps the token in an HttpOnly session cookie, which scripts cannot read."""

from __future__ import annotations

import uuid
from http.cookies import SimpleCookie

import httpx
import pytest

from shared.vocabulary.roles import Role
from tests.e2e.conftest import place_ok

pytestmark = pytest.mark.e2e


async def test_session_cookie_signs_the_browser_in(system, make_shop) -> None:
    shop = await make_shop({"water": 5})
    subject = f"resident-{uuid.uuid4().hex[:8]}"
    token = system.token(Role.SHOPPER, subject)
    async with system.client("orders", Role.SHOPPER, subject) as app:
        order_id = await place_ok(app, shop.store_id, {shop.products["water"]: 1})

    async with httpx.AsyncClient(base_url=system.url("orders"), timeout=30.0) as browser:
        signed_in = await browser.post("/auth/session", json={"token": token})
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.json() == {"subject": subject, "role": "shopper", "store": None}
        [set_cookie] = signed_in.headers.get_list("set-cookie")
        assert "httponly" in set_cookie.lower()
        assert "samesite=lax" in set_cookie.lower()
        cookie = SimpleCookie(set_cookie)
        [(name, morsel)] = cookie.items()
        assert morsel.value == token

        browser.cookies.clear()  # send the cookie by hand: nothing else identifies this request
        only_cookie = {"Cookie": f"{name}={morsel.value}"}
        mine = await browser.get("/orders", headers=only_cookie)
        assert mine.status_code == 200, mine.text
        assert [o["id"] for o in mine.json()] == [order_id]
        me = await browser.get("/auth/me", headers=only_cookie)
        assert me.json()["subject"] == subject

        assert (await browser.get("/orders")).status_code == 401  # without it, not signed in
        stale = await browser.get("/orders", headers={"Cookie": f"{name}=not-a-token"})
        assert stale.status_code == 401, stale.text

        signed_out = await browser.delete("/auth/session", headers=only_cookie)
        assert signed_out.status_code == 204
        cleared = SimpleCookie(signed_out.headers["set-cookie"])[name]
        assert cleared.value in ("", '""')
        assert cleared["max-age"] == "0"


async def test_session_refuses_a_bad_token(system) -> None:
    async with httpx.AsyncClient(base_url=system.url("orders"), timeout=30.0) as browser:
        response = await browser.post("/auth/session", json={"token": "forged"})
        assert response.status_code == 401, response.text
        assert "not valid" in response.json()["detail"]
        assert "set-cookie" not in response.headers
        empty = await browser.post("/auth/session", json={})
        assert empty.status_code == 422, empty.text
