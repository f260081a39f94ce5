"""Once a service has started, what startup built is frozen and the young collected less often."""

from __future__ import annotations

import json
import subprocess
import sys


def test_settling_freezes_the_heap_and_sets_only_the_young_threshold() -> None:
    # In a process of its own: a frozen heap and a changed threshold would outlive the test.
    probe = (
        "import gc, json; before = gc.get_threshold(); "
        "from services.common.heap import settle_heap; settle_heap(12345); "
        "print(json.dumps([gc.get_freeze_count(), before, gc.get_threshold()]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    frozen, before, after = json.loads(out.stdout)
    assert frozen > 1000
    assert after == [12345, before[1], before[2]]


def test_the_young_threshold_is_a_setting_with_a_default_above_cpythons() -> None:
    from services.common.settings import ServiceSettings

    assert ServiceSettings.model_fields["gc_young_threshold"].default == 20_000
    settings = ServiceSettings(database_url="postgresql://u@h/d", gc_young_threshold=5000)
    assert settings.gc_young_threshold == 5000
