"""`safeguard schemas export`: JSON Schema of every published model, AsyncAPI of the services."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.v1.published import MODELS


def asyncapi_document() -> str:
    """The AsyncAPI 3.0 document of intake, routing, audit and delivery together (JSON)."""
    from faststream.specification import AsyncAPI

    from services.audit.app import build_app as audit_app
    from services.audit.settings import AuditSettings
    from services.delivery.app import build_app as delivery_app
    from services.delivery.settings import DeliverySettings
    from services.intake.app import build_app as intake_app
    from services.intake.settings import IntakeSettings
    from services.routing.app import build_app as routing_app
    from services.routing.settings import RoutingSettings

    # Building the apps connects to nothing; it only registers their subscribers and publishers.
    placeholder = "postgresql://docs@localhost/docs"
    brokers = [
        intake_app(IntakeSettings(database_url=placeholder)).state.runtime.broker,
        routing_app(RoutingSettings(database_url=placeholder)).state.runtime.broker,
        audit_app(AuditSettings(database_url=placeholder)).state.runtime.broker,
        delivery_app(DeliverySettings(database_url=placeholder)).state.runtime.broker,
    ]
    spec = AsyncAPI(
        *brokers,
        title="Safeguarding Exchange events",
        version="1.0.0",
        schema_version="3.0.0",
        description=(
            "Events between intake, routing, audit and delivery, and for agency systems "
            "(each agency's own feed is deliveries.<agency-id>)."
        ),
    )
    document: str = spec.to_specification().to_json()
    return document


def export_all(directory: Path) -> list[Path]:
    """Write <name>.schema.json for each model and asyncapi.json; the paths written."""
    v1 = directory / "v1"
    v1.mkdir(parents=True, exist_ok=True)
    written = []
    for name, model in MODELS.items():
        path = v1 / f"{name}.schema.json"
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"urn:safeguarding-exchange:v1:{name}"
        path.write_text(json.dumps(schema, indent=2) + "\n")
        written.append(path)
    path = directory / "asyncapi.json"
    path.write_text(json.dumps(json.loads(asyncapi_document()), indent=2) + "\n")
    written.append(path)
    return written
