"""Destinations in the partnership file, and what `safeguard policy check` says of them."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from deploy.cli_policy import cmd_policy_check
from services.partnership import (
    KafkaDestination,
    PartnershipError,
    WebhookDestination,
    default_partnership_path,
    feed_topic,
    load_partnership,
)
from tests.delivery_builders import partnership_file

HOOK = {"id": "case-system", "kind": "webhook", "secret_env": "NM_CSC_WEBHOOK_SECRET"}


def problems(tmp_path: Path, deliveries: list[dict[str, Any]], **top: Any) -> list[str]:
    path = partnership_file(tmp_path, {"nm-csc": deliveries}, **top)
    with pytest.raises(PartnershipError) as caught:
        load_partnership(path)
    return [f"{p.place}: {p.reason}" for p in caught.value.problems]


def test_the_reference_partnership_feeds_the_police_records_system() -> None:
    partnership = load_partnership(default_partnership_path())
    assert partnership.destinations("nme-police") == [
        KafkaDestination(id="records-feed", kind="kafka")
    ]
    assert partnership.destinations("nm-csc") == []
    assert partnership.delivery.retry_window == timedelta(days=1)
    assert feed_topic("nme-police") == "deliveries.nme-police"


def test_a_webhook_and_a_feed_load_with_the_retry_window(tmp_path: Path) -> None:
    hook = {**HOOK, "url": "https://csc.northmoor.example/safeguarding/webhooks"}
    path = partnership_file(
        tmp_path, {"nm-csc": [hook, {"id": "feed", "kind": "kafka"}]},
        delivery={"retry_window": "PT6H"},
    )  # fmt: skip
    partnership = load_partnership(path)
    webhook, feed = partnership.destinations("nm-csc")
    assert isinstance(webhook, WebhookDestination)
    assert webhook.secret_env == "NM_CSC_WEBHOOK_SECRET"
    assert isinstance(feed, KafkaDestination)
    assert partnership.delivery.retry_window == timedelta(hours=6)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://127.8.9.10/hook",
        "http://[::1]:9000/hook",
        "http://localhost:9000/hook",
        "https://localhost/hook",
        "https://records.police.example:8443/in?source=exchange",
    ],
)
def test_https_anywhere_and_http_only_on_loopback(tmp_path: Path, url: str) -> None:
    path = partnership_file(tmp_path, {"nm-csc": [{**HOOK, "url": url}]})
    assert load_partnership(path).destinations("nm-csc")[0].kind == "webhook"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://csc.northmoor.example/hook", "must be https"),
        ("http://10.0.0.5/hook", "must be https"),
        ("http://localhost.evil.example/hook", "must be https"),
        ("ftp://csc.northmoor.example/hook", "https:// URL"),
        ("csc.northmoor.example/hook", "https:// URL"),
        ("https://user:pw@csc.northmoor.example/hook", "no credentials"),
        ("https://csc.northmoor.example/hook#part", "fragment"),
        ("https://csc.northmoor.example:port/hook", "not a URL"),
    ],
)
def test_other_urls_are_refused(tmp_path: Path, url: str, reason: str) -> None:
    found = problems(tmp_path, [{**HOOK, "url": url}])
    assert len(found) == 1
    assert "deliveries[0]" in found[0]
    assert reason in found[0]


@pytest.mark.parametrize("name", ["1SECRET", "NM-CSC", "whsec_c2VjcmV0", "A B", ""])
def test_secret_env_must_name_a_variable(tmp_path: Path, name: str) -> None:
    hook = {**HOOK, "url": "https://csc.example/hook", "secret_env": name}
    found = problems(tmp_path, [hook])
    assert any("secret_env" in problem for problem in found)


def test_a_secret_given_in_place_of_its_variable_is_refused(tmp_path: Path) -> None:
    hook = {"id": "h", "kind": "webhook", "url": "https://csc.example/hook", "secret": "x"}
    assert any("unknown key" in problem for problem in problems(tmp_path, [hook]))


def test_destination_ids_are_unique_within_an_agency(tmp_path: Path) -> None:
    hook = {**HOOK, "url": "https://csc.example/hook"}
    found = problems(tmp_path, [hook, {"id": "case-system", "kind": "kafka"}])
    assert found == [
        "agencies[0].deliveries[0].id: 'case-system' is used twice",
        "agencies[0].deliveries[1].id: 'case-system' is used twice",
    ]


def test_an_agency_has_one_kafka_feed(tmp_path: Path) -> None:
    found = problems(tmp_path, [{"id": "a", "kind": "kafka"}, {"id": "b", "kind": "kafka"}])
    assert found == ["agencies[0].deliveries[1].kind: an agency has one Kafka feed"]


def test_an_unknown_kind_is_refused(tmp_path: Path) -> None:
    assert any("kind" in p for p in problems(tmp_path, [{"id": "a", "kind": "email"}]))


def test_the_retry_window_is_an_iso_duration(tmp_path: Path) -> None:
    found = problems(tmp_path, [], delivery={"retry_window": "one day"})
    assert any(p.startswith("delivery.retry_window") for p in found)


def test_policy_check_names_the_line_of_a_bad_destination(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = {**HOOK, "url": "http://csc.northmoor.example/hook"}
    path = partnership_file(tmp_path, {"nm-csc": [hook]})

    assert cmd_policy_check(argparse.Namespace(path=path)) == 1

    out = capsys.readouterr().out
    assert "deliveries[0]" in out
    assert "outside loopback" in out
