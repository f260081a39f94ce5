"""A service's /openapi.json documents every problem answer as application/problem+json."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.common.problems import PROBLEM

_FASTAPI_422 = "#/components/schemas/HTTPValidationError"
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_VALIDATION = "A parameter or field is invalid; each is listed in `errors`."


def _cannot_fail_validation(operation: dict[str, Any]) -> bool:
    # A bare string path parameter and no body: FastAPI documents a 422 it never sends.
    if "requestBody" in operation:
        return False
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        if parameter.get("in") != "path" or schema.get("type") != "string":
            return False
        if {"format", "minLength", "maxLength", "pattern"} & set(schema):
            return False
    return True


def rewrite_problem_answers(operation: dict[str, Any]) -> None:
    """Our 422 (a Problem) in place of FastAPI's; every Problem as application/problem+json."""
    responses = operation.get("responses", {})
    if _FASTAPI_422 in str(responses.get("422")):
        if _cannot_fail_validation(operation):
            del responses["422"]
        else:
            responses["422"] = {
                "description": _VALIDATION,
                "content": {PROBLEM: {"schema": dict(_PROBLEM_REF)}},
            }
    for response in responses.values():
        content = response.get("content", {})
        if PROBLEM in content and "application/json" in content:
            content[PROBLEM] = content.pop("application/json")


def problem_media_types(app: FastAPI) -> None:
    """Document every problem answer as application/problem+json only, as it is sent."""
    if getattr(app.state, "problem_media_types", False):
        return
    app.state.problem_media_types = True
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    rewrite_problem_answers(operation)
            if _FASTAPI_422 not in str(schema.get("paths")):
                components = schema.get("components", {}).get("schemas", {})
                components.pop("HTTPValidationError", None)
                components.pop("ValidationError", None)
        return app.openapi_schema or generate()

    app.openapi = openapi  # type: ignore[method-assign]
