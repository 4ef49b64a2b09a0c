"""The token every request to `serve` must carry, as Jupyter does it.

A loopback port is reachable by every user of the machine (and, through a browser, by any
page that guesses it), so `serve` makes a random token at start and prints the URL holding
it. The first request brings it as `?token=`; the page answers with an HttpOnly, SameSite
cookie and a redirect to the same URL without it, so the token leaves the address bar and
the page's own requests (scripts, fonts, the websocket) carry the cookie. A websocket must
also come from a page of this very server (its Origin names our Host): another local site
on another port shares our cookies, since cookies ignore ports.

One aiohttp middleware does it all, the least invasive hook textual-serve's app allows.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

TOKEN_PARAM = "token"

REFUSED = (
    "tui-monitor serve: this needs the token. Open the URL that `tui-monitor serve` printed "
    "when it started (it ends in ?token=...).\n"
)
CROSS_ORIGIN = "tui-monitor serve: a websocket from another site's page is refused.\n"


def new_token() -> str:
    """256 random bits, URL-safe: unguessable, and nothing to escape in a URL."""
    return secrets.token_urlsafe(32)


def cookie_name(port: int) -> str:
    """Per port: two servers on one host would otherwise overwrite each other's cookie."""
    return f"tui-monitor-serve-{port}"


def same_origin(request: web.Request) -> bool:
    """Whether the request's Origin (sent by browsers) is this server as the browser saw it;
    clients that send no Origin (not a browser page) pass on their token alone."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == (request.host or "").lower()


def _matches(given: str | None, token: bytes) -> bool:
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), token)


def token_middleware(token: str, cookie: str) -> Middleware:
    """The middleware that refuses (403) every request without the token."""
    secret = token.encode()

    @web.middleware
    async def check_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        in_query = _matches(request.query.get(TOKEN_PARAM), secret)
        if not (in_query or _matches(request.cookies.get(cookie), secret)):
            raise web.HTTPForbidden(text=REFUSED)
        is_websocket = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
        if is_websocket and not same_origin(request):
            raise web.HTTPForbidden(text=CROSS_ORIGIN)
        if in_query and request.method == "GET" and request.path == "/":
            # Trade the token in the address bar for the cookie, keeping the other parameters.
            rest = request.rel_url.without_query_params(TOKEN_PARAM)
            response = web.HTTPFound(str(rest))
            response.set_cookie(cookie, token, httponly=True, samesite="Strict", path="/")
            response.headers[hdrs.CACHE_CONTROL] = "no-store"
            raise response
        return await handler(request)

    return check_token
