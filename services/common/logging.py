"""JSON logs through structlog, with the correlation id of the work at hand on every line."""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
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


class _StdoutLines:
    """Writes each rendered line to sys.stdout as it is at the time of writing."""

    # Looked up on each line, not bound once: a test's capture of stdout may have come and gone
    # since the logger was first used, where a bound file would by then be closed.
    def msg(self, message: str) -> None:
        """Write one line."""
        out = sys.stdout
        out.write(message + "\n")
        out.flush()

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


def _json(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every log line (ours, uvicorn's, FastStream's) to stdout as one JSON object.

    Our own lines go straight from structlog to stdout, filtered by level before any work is
    done; other libraries' come through the standard library's logging, formatted alike.
    """

    def add_service(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _refuse_personal_data,
    ]
    threshold = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_json),
        ],
        logger_factory=lambda *_: _StdoutLines(),
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_json),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(threshold)
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def bind_correlation_id(correlation_id: str) -> None:
    """Put correlation_id on every log line of the current task."""
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
