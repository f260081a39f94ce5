"""The producers' partitioner puts every key where aiokafka's default (Java's) would."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from services.common.kafka import key_partitioner

PARTITIONS = [0, 1, 2, 3, 4, 5]


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=12))
def test_a_key_goes_to_the_default_partitioners_partition(key: bytes, count: int) -> None:
    partitions = list(range(count))
    expected = DefaultPartitioner()(key, partitions, partitions)
    assert key_partitioner(key, partitions, partitions) == expected
    # Asked again (its hash remembered), the same answer.
    assert key_partitioner(key, partitions, partitions) == expected


# Java's murmur2 of these keys, signed, from Apache Kafka's own UtilsTest.testMurmur2: they hold
# the remembered hash to the Java client's function, not just to aiokafka's.
JAVA_MURMUR2 = {b"21": -973932308, b"foobar": -790332482, b"abc": 479470107}


def test_keys_land_where_the_java_client_puts_them() -> None:
    for key, hashed in JAVA_MURMUR2.items():
        for count in (1, 6, 7):
            partitions = list(range(count))
            assert key_partitioner(key, partitions, partitions) == (hashed & 0x7FFFFFFF) % count


def test_no_key_goes_to_an_available_partition() -> None:
    for _ in range(50):
        assert key_partitioner(None, PARTITIONS, [2, 4]) in (2, 4)
    assert key_partitioner(None, PARTITIONS, []) in PARTITIONS
