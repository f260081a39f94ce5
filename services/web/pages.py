"""Every page's route: sign-in, the caseworker's inbox, the referrer's concerns, the auditor's."""

from __future__ import annotations

from fastapi import APIRouter

from services.web import audit_pages, concern_pages, inbox_pages, sign_in

router = APIRouter(include_in_schema=False)
for pages in (sign_in, inbox_pages, concern_pages, audit_pages):
    router.include_router(pages.router)
