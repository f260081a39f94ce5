"""JSON parameters are written through orjson, as the standard library would write them."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from services.common.db import json_text

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_a_value_reads_back_as_the_standard_librarys_text_of_it(value: object) -> None:
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))


def test_keys_that_are_not_text_are_written_as_text() -> None:
    assert json.loads(json_text({1: "one"})) == {"1": "one"}
