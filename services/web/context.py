"""What every page handler needs: settings, partnership, token checks, templates, clients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Request
from fastapi.templating import Jinja2Templates

from schemas.v1.api import NotificationSummary
from services.common.auth import TokenVerifier
from services.partnership import Partnership
from services.partnership.holder import PartnershipHolder
from services.web import labels, notification_page, views, worklist
from services.web.settings import WebSettings
from services.web.upstream import Upstream

HERE = Path(__file__).resolve().parent


@dataclass
class WebContext:
    """The web process's shared state (no data of its own)."""

    settings: WebSettings
    holder: PartnershipHolder
    verifier: TokenVerifier
    signing_key: Ed25519PrivateKey | None
    templates: Jinja2Templates
    upstream: Upstream

    @property
    def partnership(self) -> Partnership:
        """The partnership in force now (a changed file is picked up without a restart)."""
        return self.holder.current

    def agency_name(self, agency_id: str | None) -> str:
        """An agency's name from the partnership, or its id if unknown."""
        return agency_name(self.partnership, agency_id)


def agency_name(partnership: Partnership | None, agency_id: str | None) -> str:
    """An agency's name from the partnership, or its id if unknown."""
    for agency in partnership.agencies if partnership else []:
        if agency.id == agency_id:
            return agency.name
    return agency_id or ""


def web(request: Request) -> WebContext:
    """The app's WebContext."""
    value: WebContext = request.app.state.web
    return value


def make_templates(partnership: PartnershipHolder | Partnership | None = None) -> Jinja2Templates:
    """Jinja2 templates with the pages' filters, naming agencies, rules and schools in words."""
    templates = Jinja2Templates(directory=HERE / "templates")
    env = templates.env

    def in_force() -> Partnership | None:
        # A holder is read at each render, so names follow a reloaded partnership file.
        return partnership.current if isinstance(partnership, PartnershipHolder) else partnership

    def school_name(urn: str) -> str | None:
        found = [a.name for a in p.agencies if a.school_urn == urn] if (p := in_force()) else []
        return found[0] if found else None

    def rule_description(reason: str) -> str:
        return p.rule_description(reason) if (p := in_force()) else reason

    env.filters["label"] = views.label
    env.filters["when"] = labels.when
    env.filters["day"] = labels.day
    env.filters["field_label"] = labels.field_label
    env.filters["when_exact"] = lambda moment: views.when(moment, seconds=True)
    env.filters["iso"] = lambda moment: moment.isoformat() if moment else ""
    env.globals.update(
        time_left=views.time_left,
        now=lambda: datetime.now(UTC),
        action_labels=views.ACTION_LABELS,
        kind_label=labels.kind_label,
        status_label=labels.status_label,
        consent_label=labels.consent_label,
        missed_step=labels.missed_step,
        age_on=labels.age_on,
        child_words=worklist.child_words,
        incident_at=notification_page.incident_at,
        colleagues=notification_page.colleagues,
        agency_name=lambda agency: agency_name(in_force(), agency),
        rule_description=rule_description,
        subject_value=lambda name, value: notification_page.subject_value(
            name, value, school_name=school_name
        ),
    )
    return templates


def render_row(
    context: WebContext, notification: NotificationSummary, *, matches: bool = True
) -> str:
    """One inbox row, as the inbox page and the live stream both render it."""
    template = context.templates.env.get_template("_row.html")
    return template.render(n=notification, agency_name=context.agency_name, matches=matches)
