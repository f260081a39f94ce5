"""Errors as pages that keep the navigation: never raw JSON, never an internal address."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.web.context import WebContext, web
from services.web.session import COOKIE, Forbidden, SignInRequired, local_path, optional_session
from services.web.upstream import UpstreamError

TITLES = {
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not found",
    409: "Not possible",
    422: "Check the request",
    502: "Something went wrong",
    503: "Not available just now",
    504: "Not available just now",
}
NOT_FOUND = {
    "/inbox/": "There is no such notification for your agency.",
    "/concerns/": "Your agency raised no such concern.",
    "/audit/concerns/": "There is no such concern in the audit log.",
}


def error_page(request: Request, status: int, message: str) -> Response:
    """A page explaining what went wrong, with the signed-in person's navigation."""
    return web(request).templates.TemplateResponse(
        request,
        "error.html",
        {
            "title": TITLES.get(status, "Something went wrong"),
            "message": message,
            "session": optional_session(request),
        },
        status_code=status,
    )


def not_found_message(path: str) -> str:
    """What is missing, in the words of the page that was asked for."""
    for prefix, message in NOT_FOUND.items():
        if path.startswith(prefix):
            return message
    return "There is no such page."


def return_path(request: Request) -> str:
    """The page to come back to after signing in again: this one, or the form's page."""
    if request.method == "GET" and not request.url.path.endswith("/stream"):
        query = f"?{request.url.query}" if request.url.query else ""
        return local_path(f"{request.url.path}{query}") or "/"
    referer = request.headers.get("referer", "")
    parts = urlsplit(referer)
    if parts.netloc != request.headers.get("host", ""):
        return "/"
    return local_path(parts.path + (f"?{parts.query}" if parts.query else "")) or "/"


def install_error_pages(app: FastAPI, context: WebContext) -> None:
    """Answer every error a person can meet with a page."""

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, error: SignInRequired) -> Response:
        if context.signing_key is not None:
            query = {"next": return_path(request), **({"expired": "1"} if error.expired else {})}
            response: Response = RedirectResponse(f"/login?{urlencode(query)}", status_code=303)
        elif error.expired:
            response = error_page(request, 401, "Your session has expired. Sign in through "
                                                "your organisation again.")  # fmt: skip
        else:
            response = error_page(request, 401, "Sign in through your organisation first.")
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, error: Forbidden) -> Response:
        return error_page(request, 403, "The form came from elsewhere or has expired.")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code in (404, 405):
            return error_page(request, 404, not_found_message(request.url.path))
        return error_page(request, error.status_code, "The request could not be served.")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        # A malformed id in the address names nothing: not found, as a missing one.
        if any(e.get("loc", ("",))[0] == "path" for e in error.errors()):
            return error_page(request, 404, not_found_message(request.url.path))
        return error_page(request, 422, "The address asks for something this page cannot show.")

    @app.exception_handler(UpstreamError)
    async def _upstream(request: Request, error: UpstreamError) -> Response:
        if error.status == 401:
            return await _sign_in(request, SignInRequired(expired=True))
        if error.status == 404:
            return error_page(request, 404, not_found_message(request.url.path))
        if error.status == 403:
            return error_page(request, 403, "Your role may not see this page.")
        if error.status in (503, 504):
            return error_page(request, error.status, error.detail)
        if error.status == 400:
            return error_page(request, 422, "That page of the list is no longer there; start "
                                            "again from the first page.")  # fmt: skip
        if error.status in (409, 422):
            return error_page(request, error.status, error.detail or "That is not possible.")
        return error_page(request, 502, "Something went wrong on our side. Try again in a "
                                        "moment; if it keeps happening, tell your IT service "
                                        "desk.")  # fmt: skip
