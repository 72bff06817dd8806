"""The webhook's two ways of reading a body (bot/web/intake.py) must agree.

The fast path (a typed msgspec read of three fields) may only decline: whenever it answers, the general
path (the whole document parsed) must read the same fields, and the text it stores must be JSON that
the worker's parser reads back as the document that was sent. Checked on generated documents, on
byte-level mutations of real ones, and on the corners where JSON parsers differ.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import jsoncodec
from bot.store.queue import IncomingDelivery
from bot.web.intake import Intake, RawDelivery, _Fields, _read_any, _read_envelope, classify

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
# the three fields, sometimes well-typed, sometimes not
actions = st.one_of(st.text(max_size=20), json_values)
repositories = st.one_of(
    st.fixed_dictionaries(
        {"full_name": st.one_of(st.text(max_size=30), json_values)}, optional={"id": scalars}
    ),
    json_values,
)
installations = st.one_of(
    st.fixed_dictionaries({"id": st.one_of(st.integers(min_value=-5, max_value=2**64 + 5), json_values)}),
    json_values,
)
documents = st.fixed_dictionaries(
    {},
    optional={
        "action": actions,
        "repository": repositories,
        "installation": installations,
        "extra": json_values,
    },
)


def assert_agree(body: bytes) -> _Fields | Intake:
    fast = _read_envelope(body)
    general = _read_any(body)
    if fast is None:
        return general
    assert isinstance(general, _Fields), f"the fast path took a body the general path refuses: {body[:200]!r}"
    assert (fast.action, fast.repository, fast.installation_id) == (
        general.action,
        general.repository,
        general.installation_id,
    )
    # what is stored reads back, with the worker's parser, as the document that was sent
    assert jsoncodec.loads(fast.text) == json.loads(body)
    return fast


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(documents, st.booleans())
def test_fast_and_general_paths_read_the_same_fields(document: dict[str, Any], ascii_only: bool) -> None:
    body = json.dumps(document, ensure_ascii=ascii_only).encode()
    fields = assert_agree(body)
    assert isinstance(fields, _Fields)  # every generated document is a JSON object


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(documents, st.data())
def test_mutated_bodies_are_refused_or_read_alike(document: dict[str, Any], data: st.DataObject) -> None:
    body = bytearray(json.dumps(document).encode())
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(body)))
        byte = data.draw(st.sampled_from(b'{}[]",:\\-0e.tfn \x00\xff\xc3'))
        if data.draw(st.booleans()) and at < len(body):
            body[at] = byte
        else:
            body.insert(at, byte)
    assert_agree(bytes(body))


@pytest.mark.parametrize(
    "body",
    [
        b'{"action":"a","x":"\\ud800"}',  # a lone surrogate escape: only the standard library takes it
        b'{"action":"a","x":NaN}',
        b'{"action":"a","x":1e400}',  # beyond a double: valid JSON, read as infinity
        b'{"action":"a","x":123456789012345678901234567890}',
        b'\xef\xbb\xbf{"action":"a"}',  # a byte order mark
        b'{"action":"a","action":"b"}',  # a repeated key: the last one counts, on both paths
        b'{"repository":{"full_name":"a/b"},"repository":null}',
        b'{"installation":{"id":true}}',  # a boolean is not an id
        b'{"installation":{"id":9223372036854775808}}',  # beyond the store's 64-bit column
        b'{"installation":{"id":0}}',
        b'{"action":"a","x":"\xff"}',  # not UTF-8 inside a string the fast path skips
        b'{"action":"a"} x',
        b"[" * 3000 + b"]" * 3000,  # deeper than any parser's stack
        b'{"x":' + b"[" * 3000 + b"]" * 3000 + b"}",
    ],
)
def test_corner_cases_are_read_alike(body: bytes) -> None:
    assert_agree(body)


def test_corner_answers() -> None:
    def answer(body: bytes) -> object:
        item = classify(RawDelivery("d-1", "push", body), None)
        return item if isinstance(item, Intake) else (item.action, item.repository, item.installation_id)

    assert answer(b'{"installation":{"id":true},"action":"a"}') == ("a", None, None)
    assert answer(b'{"installation":{"id":9223372036854775807}}') == (None, None, 9223372036854775807)
    assert answer(b'{"installation":{"id":9223372036854775808}}') == (None, None, None)
    deep = answer(b"[" * 3000 + b"]" * 3000)
    assert deep == Intake(400, "rejected", "the body is not JSON")
    assert answer(b'{"action":"a","x":"\xff"}') == Intake(400, "rejected", "the body is not JSON")
    # GitHub's bytes are stored as sent, spacing and all
    item = classify(RawDelivery("d-2", "push", b'{ "action" : "opened",\n "n": 1e400 }'), None)
    assert isinstance(item, IncomingDelivery) and item.payload_text == '{ "action" : "opened",\n "n": 1e400 }'


def test_events_without_a_handler_are_not_stored() -> None:
    """The webhook stores exactly the events the worker has a handler for (a stored delivery nobody
    handles would only be queued, taken and marked ignored)."""
    body = b'{"action":"created","repository":{"full_name":"a/b"},"installation":{"id":1}}'
    for event in ("check_run", "installation", "star"):
        assert classify(RawDelivery("d-1", event, body), None) == Intake(202, "ignored")
    assert isinstance(classify(RawDelivery("d-1", "issue_comment", body), None), IncomingDelivery)
