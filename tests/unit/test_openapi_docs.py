"""Problem answers are documented as application/problem+json, FastAPI's own 422 replaced."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import FastAPI, Path, Query

from services.common.openapi_docs import problem_media_types
from services.common.problems import PROBLEM, problem_doc

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def an_app() -> FastAPI:
    app = FastAPI()

    @app.get("/things/{thing_id}", responses={404: problem_doc("No such thing.")})
    async def get_thing(thing_id: UUID) -> dict[str, str]:
        return {}

    @app.get("/names/{name}", responses={404: problem_doc("No such name.")})
    async def get_name(name: str) -> dict[str, str]:
        return {}

    @app.get("/words/{word}")
    async def get_word(word: Annotated[str, Path(max_length=5)]) -> dict[str, str]:
        return {}

    @app.get("/lists")
    async def get_list(limit: Annotated[int, Query(ge=1)] = 1) -> dict[str, str]:
        return {}

    problem_media_types(app)
    return app


def responses(document: dict[str, Any], path: str) -> dict[str, Any]:
    found: dict[str, Any] = document["paths"][path]["get"]["responses"]
    return found


def test_a_validated_parameter_documents_our_422_as_a_problem() -> None:
    document = an_app().openapi()
    for path in ("/things/{thing_id}", "/words/{word}", "/lists"):
        content = responses(document, path)["422"]["content"]
        assert content == {PROBLEM: {"schema": PROBLEM_REF}}, path


def test_a_bare_string_path_parameter_documents_no_422() -> None:
    assert "422" not in responses(an_app().openapi(), "/names/{name}")


def test_a_problem_answer_is_documented_only_as_problem_json() -> None:
    content = responses(an_app().openapi(), "/things/{thing_id}")["404"]["content"]
    assert content == {PROBLEM: {"schema": PROBLEM_REF}}


def test_fastapis_validation_schemas_are_not_documented_when_unused() -> None:
    schemas = an_app().openapi()["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas


def test_installing_twice_changes_nothing() -> None:
    app = an_app()
    problem_media_types(app)
    assert "422" not in responses(app.openapi(), "/names/{name}")
