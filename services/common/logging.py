"""JSON logs through structlog, with the correlation id of the work at hand on every line."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_PERSONAL_KEYS = frozenset(
    {"given_name", "family_name", "name", "narrative", "summary", "nhs_number", "postcode",
     "date_of_birth", "email", "phone", "household", "reporter", "subject", "concern"}
)  # fmt: skip


def _refuse_personal_data(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    # A last line of defence: a key that would carry personal data is masked, never written.
    for key in _PERSONAL_KEYS.intersection(event_dict):
        event_dict[key] = "[withheld]"
    return event_dict


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every log line (ours, uvicorn's, FastStream's) to stdout as one JSON object."""

    def add_service(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _refuse_personal_data,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def bind_correlation_id(correlation_id: str) -> None:
    """Put correlation_id on every log line of the current task."""
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
