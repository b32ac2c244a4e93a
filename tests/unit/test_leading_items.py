"""leading_items: the first metrics of a stored run read from the JSON text (bot/store/runs.py),
equal to decoding it all and taking the first ones, whatever the text looks like."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.store.runs import leading_items

VALUES = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(), st.text(max_size=8),
                   st.none(), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@given(st.dictionaries(st.text(max_size=10), VALUES, max_size=8), st.integers(0, 10),
       st.sampled_from([{}, {"separators": (",", ":")}, {"indent": 2}, {"ensure_ascii": False}]))
def test_same_as_decoding_it_all(metrics, n, style):
    assert leading_items(json.dumps(metrics, **style), n) == dict(list(metrics.items())[:n])


@pytest.mark.parametrize(("raw", "expected"), [
    (None, {}), ("", {}), ("{}", {}), (" { } ", {}), ("[1, 2]", {}), ("null", {}),
    ('{"loss": NaN, "acc": 0.5}', {"loss": "nan"}),
])
def test_empty_odd_and_non_finite(raw, expected):
    got = leading_items(raw, 1)
    if expected.get("loss") == "nan":
        assert list(got) == ["loss"] and got["loss"] != got["loss"]  # NaN as Python reads it
    else:
        assert got == expected
