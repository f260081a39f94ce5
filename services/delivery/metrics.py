"""Delivery's Prometheus metrics: attempts by outcome, and destinations disabled (alert on it)."""

from prometheus_client import Counter

ATTEMPTS = Counter(
    "delivery_attempts",
    "Delivery attempts by destination and outcome (delivered, retried, failed, dead_lettered, "
    "disabled).",
    ["agency", "destination", "outcome"],
)
DESTINATIONS_DISABLED = Counter(
    "delivery_destinations_disabled",
    "Destinations that answered 410 Gone and are no longer tried: alert when it increases.",
    ["agency", "destination"],
)
