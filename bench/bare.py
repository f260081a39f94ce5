"""A bare endpoint on intake's HTTP stack (FastAPI on uvicorn): takes the JSON, answers 202.

Run as its own process, as intake is: `python -m bench.bare PORT`.
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

from fastapi import FastAPI

from schemas.v1 import ConcernSubmission


def build_app() -> FastAPI:
    """POST /v1/concerns parses the body and answers as intake does, doing nothing else."""
    app = FastAPI()

    @app.post("/v1/concerns", status_code=202)
    async def accept(body: dict[str, Any]) -> dict[str, str]:
        return {"concern_id": str(uuid.uuid4()), "status": "accepted"}

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


def build_validating_app() -> FastAPI:
    """POST /v1/concerns validates the body as a ConcernSubmission, as intake does, and answers.

    The HTTP stack's own cost with the project's own validation: what `bench.servers` serves.
    """
    app = FastAPI()

    @app.post("/v1/concerns", status_code=202)
    async def accept(body: ConcernSubmission) -> dict[str, str]:
        return {"concern_id": str(uuid.uuid4()), "status": "accepted"}

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(build_app(), host="127.0.0.1", port=int(sys.argv[1]), log_config=None,
                access_log=False)  # fmt: skip
