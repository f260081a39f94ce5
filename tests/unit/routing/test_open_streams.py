"""The count of an agency's open inbox streams, and its cap."""

from __future__ import annotations

from services.routing.stream import OpenStreams


def test_an_agency_may_open_streams_up_to_its_cap_and_no_more() -> None:
    streams = OpenStreams(cap=2)
    assert [streams.open("nm-csc") for _ in range(3)] == [True, True, False]
    assert streams.count("nm-csc") == 2


def test_the_cap_is_per_agency() -> None:
    streams = OpenStreams(cap=1)
    assert streams.open("nm-csc")
    assert streams.open("nme-police")
    assert not streams.open("nm-csc")


def test_a_closed_stream_gives_its_place_back() -> None:
    streams = OpenStreams(cap=1)
    streams.open("nm-csc")
    streams.close("nm-csc")
    assert streams.count("nm-csc") == 0
    assert streams.open("nm-csc")
