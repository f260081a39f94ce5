"""What every page handler needs: settings, partnership, token checks, templates, clients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Request
from fastapi.templating import Jinja2Templates

from schemas.v1 import NotificationView
from services.common.auth import TokenVerifier
from services.partnership import Partnership
from services.web import views
from services.web.settings import WebSettings
from services.web.upstream import Upstream

HERE = Path(__file__).resolve().parent


@dataclass
class WebContext:
    """The web process's shared state (no data of its own)."""

    settings: WebSettings
    partnership: Partnership
    verifier: TokenVerifier
    signing_key: Ed25519PrivateKey | None
    templates: Jinja2Templates
    upstream: Upstream

    def agency_name(self, agency_id: str | None) -> str:
        """An agency's name from the partnership, or its id if unknown."""
        for agency in self.partnership.agencies:
            if agency.id == agency_id:
                return agency.name
        return agency_id or ""


def web(request: Request) -> WebContext:
    """The app's WebContext."""
    value: WebContext = request.app.state.web
    return value


def make_templates() -> Jinja2Templates:
    """Jinja2 templates with the pages' filters."""
    templates = Jinja2Templates(directory=HERE / "templates")
    env = templates.env
    env.filters["label"] = views.label
    env.filters["when"] = views.when
    env.filters["when_exact"] = lambda moment: views.when(moment, seconds=True)
    env.filters["iso"] = lambda moment: moment.isoformat() if moment else ""
    env.globals["time_left"] = views.time_left
    env.globals["now"] = lambda: datetime.now(UTC)
    env.globals["action_labels"] = views.ACTION_LABELS
    return templates


def render_row(context: WebContext, notification: NotificationView) -> str:
    """One inbox row, as the inbox page and the live stream both render it."""
    template = context.templates.env.get_template("_row.html")
    return template.render(n=notification, agency_name=context.agency_name)
