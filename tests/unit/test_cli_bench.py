"""`safeguard bench` is the benchmark's own package, loaded only when it is run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deploy.cli import main

BENCH_ONLY = ("bench", "hdrh", "matplotlib")


def test_building_the_command_imports_nothing_of_the_benchmark() -> None:
    probe = (
        "import sys; from deploy.cli import build_parser; build_parser(); "
        f"print([m for m in sys.modules if m.split('.')[0] in {BENCH_ONLY!r}])"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


def test_bench_without_its_extra_says_how_to_install_it_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "hdrh", None)
    assert main(["bench", "--concerns", "10"]) == 2
    said = capsys.readouterr()
    assert "needs the bench extra" in said.err
    assert "pip install 'safeguarding-exchange[bench]'" in said.err
    assert "Traceback" not in said.err


def test_bench_options_are_the_benchmarks_own(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--help"])
    assert exited.value.code == 0
    assert "--concerns" in capsys.readouterr().out


def test_other_commands_still_refuse_unknown_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["status", "--concerns", "10"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --concerns 10" in capsys.readouterr().err
