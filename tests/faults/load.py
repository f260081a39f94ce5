"""A steady stream of concerns from several agency systems that retry until intake accepts."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from schemas.v1.concern import Category, ConcernSubmission, Severity
from tests.builders import a_drawn_concern_body

# Postcodes in both local authorities and one in neither; schools known and unknown; so that
# every routing rule, the fallback and the source agency's own removal all come into play.
POSTCODES = ("NM1 1AA", "NM2 4BD", "NM3 7QT", "EV1 2EF", "EV2 9XY", "ZZ9 9ZZ", None)
SCHOOLS = ("100101", "100202", "200303", "999999", None)
RETRIED_STATUSES = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Submission:
    """One concern an agency system will post, and which agency it comes from."""

    index: int
    source_agency: str
    body: dict[str, Any]

    @property
    def reference(self) -> str:
        return str(self.body["source_reference"])


def submissions(count: int, agencies: list[str], rng: random.Random) -> list[Submission]:
    """`count` valid, varied concerns, each about a child of its own, from various agencies."""
    run = uuid.uuid4().hex[:8]
    made = []
    for index in range(count):
        body = a_drawn_concern_body(rng, reference=f"FAULTS-{run}-{index:06d}")
        body["category"] = rng.choice(list(Category)).value
        body["severity"] = rng.choice(list(Severity)).value
        body["subject"]["postcode"] = rng.choice(POSTCODES)
        body["subject"]["school_urn"] = rng.choice(SCHOOLS)
        body["location"]["postcode"] = rng.choice(POSTCODES)
        ConcernSubmission.model_validate(body)  # a bad body here is the test's own mistake
        made.append(Submission(index, rng.choice(agencies), body))
    return made


@dataclass
class Answer:
    """What intake finally said to one submission."""

    concern_id: str
    status: int
    attempts: int


@dataclass
class LoadRecord:
    """The answers so far; counters readable while the load runs."""

    answers: dict[int, Answer] = field(default_factory=dict)
    refused: dict[int, str] = field(default_factory=dict)
    attempts: int = 0
    transport_errors: int = 0
    server_errors: int = 0
    in_flight: int = 0

    def count(self, status: int) -> int:
        return sum(1 for answer in self.answers.values() if answer.status == status)

    def summary(self) -> str:
        return (
            f"accepted {len(self.answers)} (202: {self.count(202)}, 200: {self.count(200)}), "
            f"attempts {self.attempts}, transport errors {self.transport_errors}, "
            f"5xx {self.server_errors}, refused {len(self.refused)}, in flight {self.in_flight}"
        )


async def post_until_accepted(
    client: httpx.AsyncClient,
    url: str,
    submission: Submission,
    token: str,
    record: LoadRecord,
    rng: random.Random,
    *,
    give_up: Callable[[], bool],
) -> None:
    """POST one concern, and on a refused connection, timeout or 5xx the same body again."""
    backoff = 0.1
    attempts = 0
    headers = {"Authorization": f"Bearer {token}"}
    record.in_flight += 1
    try:
        while not give_up():
            attempts += 1
            record.attempts += 1
            try:
                response = await client.post(url, json=submission.body, headers=headers)
            except httpx.TransportError:
                record.transport_errors += 1
            else:
                if response.status_code in (200, 202):
                    concern_id = str(response.json()["concern_id"])
                    record.answers[submission.index] = Answer(
                        concern_id, response.status_code, attempts
                    )
                    return
                if response.status_code not in RETRIED_STATUSES:
                    # Only the problem's title and status: the detail could echo the body.
                    is_problem = "json" in response.headers.get("content-type", "")
                    title = response.json().get("title", "") if is_problem else ""
                    record.refused[submission.index] = f"{response.status_code} {title}"
                    return
                record.server_errors += 1
            await asyncio.sleep(backoff * (0.5 + rng.random()))
            backoff = min(backoff * 2, 2.0)
    finally:
        record.in_flight -= 1


async def steady_load(
    url: str,
    work: list[Submission],
    tokens: dict[str, str],
    *,
    rate: float,
    senders: int,
    record: LoadRecord,
    rng: random.Random,
    give_up: Callable[[], bool],
) -> None:
    """Post every submission at `rate` per second from `senders` concurrent agency systems.

    Submission i is due at i / rate seconds; a sender that fell behind (retrying through an
    outage) sends what is overdue at once, as an agency system's queue would drain.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    queue: asyncio.Queue[Submission] = asyncio.Queue()
    for submission in work:
        queue.put_nowait(submission)
    timeout = httpx.Timeout(15.0, connect=5.0)
    limits = httpx.Limits(max_connections=senders, max_keepalive_connections=senders)

    async def sender(client: httpx.AsyncClient) -> None:
        while not queue.empty() and not give_up():
            submission = queue.get_nowait()
            delay = start + submission.index / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            token = tokens[submission.source_agency]
            await post_until_accepted(client, url, submission, token, record, rng, give_up=give_up)

    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        await asyncio.gather(*(sender(client) for _ in range(senders)))
