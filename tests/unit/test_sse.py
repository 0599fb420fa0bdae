"""The SSE decoder against the WHATWG event-stream rules, chunk boundaries, and its size limit."""

from __future__ import annotations

import itertools
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatkit_client._core.sse import DEFAULT_MAX_EVENT_SIZE, SSEDecoder
from chatkit_client._exceptions import InvalidInputError, StreamDecodeError


def decode_all(chunks: list[bytes], **options: int | None) -> list[str]:
    decoder = SSEDecoder(**options)
    payloads: list[str] = []
    for chunk in chunks:
        payloads += decoder.feed(chunk)
    return payloads + decoder.flush()


def cut(data: bytes, offsets: list[int]) -> list[bytes]:
    bounds = [0, *sorted({min(max(o, 0), len(data)) for o in offsets}), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def reference(data: bytes) -> list[str]:
    """A literal, line-at-a-time reading of the spec (plus our tolerant end of stream), for comparison."""
    text = data.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    *lines, last = re.split("\r\n|\r|\n", text)
    if last:
        lines.append(last)  # tolerant: a last line without its line end still counts
    payloads: list[str] = []
    buffer: list[str] | None = None
    for line in [*lines, ""]:
        if line == "":
            if buffer is not None:
                payloads.append("\n".join(buffer))
            buffer = None
        elif not line.startswith(":"):
            name, colon, value = line.partition(":")
            if colon and value.startswith(" "):
                value = value[1:]
            if name == "data":
                buffer = [*(buffer or []), value]
    return payloads


# --- the rules, one case each -------------------------------------------------------------------------

RULES: list[tuple[str, bytes, list[str]]] = [
    ("lf", b"data: a\n\n", ["a"]),
    ("crlf", b"data: a\r\n\r\n", ["a"]),
    ("cr", b"data: a\r\r", ["a"]),
    ("mixed line ends", b"data: a\r\ndata: b\ndata: c\r\r\n", ["a\nb\nc"]),
    ("cr inside a value ends the line", b"data: a\rb\n\n", ["a"]),
    ("two events", b"data: 1\n\ndata: 2\n\n", ["1", "2"]),
    ("comment between events", b": keep-alive\n\ndata: a\n\n", ["a"]),
    ("comment inside an event", b"data: a\n: note\ndata: b\n\n", ["a\nb"]),
    ("keep-alive only", b":\n\n: ping\n\n", []),
    ("multi-line data", b"data: a\ndata: b\ndata: c\n\n", ["a\nb\nc"]),
    ("no space after colon", b"data:a\n\n", ["a"]),
    ("only one space is removed", b"data:  a\n\n", [" a"]),
    ("empty data", b"data:\n\n", [""]),
    ("field name alone", b"data\n\n", [""]),
    ("empty data lines join", b"data:\ndata:\n\n", ["\n"]),
    ("colons in the value", b'data: {"a":"b: c"}\n\n', ['{"a":"b: c"}']),
    ("event, id and retry ignored", b"event: x\nid: 7\nretry: 10\ndata: a\n\n", ["a"]),
    ("event without data", b"event: ping\n\n", []),
    ("id only", b"id: 5\n\nretry: 3\n\n", []),
    ("unknown field", b"foo: bar\ndata: a\n\n", ["a"]),
    ("space before colon is another field", b"data : a\n\n", []),
    ("field names are case-sensitive", b"Data: a\n\n", []),
    ("leading bom", b"\xef\xbb\xbfdata: a\n\n", ["a"]),
    ("only one bom is ignored", b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n", []),
    ("bom later is text", b"data: a\n\n\xef\xbb\xbfdata: b\n\n", ["a"]),
    ("many blank lines", b"data: a\n\n\n\n\ndata: b\n\n", ["a", "b"]),
    ("leading blank lines", b"\n\n\ndata: a\n\n", ["a"]),
    ("blank lines in crlf", b"\r\n\r\ndata: a\r\n\r\n\r\n", ["a"]),
    ("multibyte text", "data: é€😀𝄞\n\n".encode(), ["é€😀𝄞"]),
    ("invalid byte", b"data: a\xffb\n\n", ["a\ufffdb"]),
    ("truncated sequence mid-stream", b"data: \xe2\x82\n\n", ["\ufffd"]),
    ("overlong encoding", b"data: \xc0\xaf\n\n", ["\ufffd\ufffd"]),
    ("nul is kept", b"data: a\x00b\n\n", ["a\x00b"]),
    ("end of stream without blank line", b"data: a\n", ["a"]),
    ("end of stream without line end", b"data: a\ndata: b", ["a\nb"]),
    ("end of stream in a comment", b"data: a\n\n: bye", ["a"]),
    ("end of stream after cr", b"data: a\r", ["a"]),
    ("end of stream in a multibyte character", b"data: a\xe2\x82", ["a\ufffd"]),
    ("empty stream", b"", []),
]


@pytest.mark.parametrize(("stream", "expected"), [(s, e) for _, s, e in RULES], ids=[n for n, _, _ in RULES])
def test_rules(stream: bytes, expected: list[str]) -> None:
    assert decode_all([stream]) == expected
    assert decode_all([bytes([b]) for b in stream]) == expected  # and one byte at a time
    assert reference(stream) == expected  # keeps the reference used below honest


def test_events_are_returned_by_the_feed_that_completes_them() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 1\n\ndata: 2\n\ndata: 3") == ["1", "2"]
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\n") == ["3"]
    assert decoder.flush() == []


# --- chunk boundaries -----------------------------------------------------------------------------------

BOUNDARIES: list[tuple[str, list[bytes], list[list[str]]]] = [
    # A CRLF cut in two is one line end: if the LF counted again, "a" would be dispatched alone.
    ("crlf split", [b"data: a\r", b"\ndata: b\r\n\r\n"], [[], ["a\nb"]]),
    ("crlf split, then blank line in lf", [b"data: a\r", b"\n", b"\n"], [[], [], ["a"]]),
    ("cr at end, then a new line", [b"data: a\r", b"data: b\r\r"], [[], ["a\nb"]]),
    ("cr at end, then cr", [b"data: a\r", b"\r"], [[], ["a"]]),
    ("a final cr dispatches at once", [b"data: a\r\n\r"], [["a"]]),
    ("blank line split", [b"data: a\n", b"\n"], [[], ["a"]]),
    ("blank line split, crlf", [b"data: a\r\n", b"\r\n"], [[], ["a"]]),
    ("blank line split, then more", [b"data: a\n", b"\ndata: b\n\n"], [[], ["a", "b"]]),
    ("extra blank lines split", [b"data: a\n", b"\n\n", b"\ndata: b\n", b"\n"], [[], ["a"], [], ["b"]]),
    ("bom split", [b"\xef", b"\xbb", b"\xbfdata: a\n\n"], [[], [], ["a"]]),
    ("field name split", [b"da", b"ta: a\n\n"], [[], ["a"]]),
    ("empty chunks", [b"", b"data: a\n", b"", b"\n", b""], [[], [], [], ["a"], []]),
]


@pytest.mark.parametrize(("chunks", "per_feed"), [(c, p) for _, c, p in BOUNDARIES], ids=[n for n, _, _ in BOUNDARIES])
def test_chunk_boundaries(chunks: list[bytes], per_feed: list[list[str]]) -> None:
    decoder = SSEDecoder()
    assert [decoder.feed(chunk) for chunk in chunks] == per_feed
    assert decoder.flush() == []


MULTIBYTE = 'data: {"delta":"é€😀𝄞 ok"}\n\n'.encode() + "\ufeffdata: ü\r\n\r\n".encode()


@pytest.mark.parametrize("offset", range(len(MULTIBYTE) + 1))
def test_multibyte_split_at_every_offset(offset: int) -> None:
    expected = ['{"delta":"é€😀𝄞 ok"}']
    assert decode_all([MULTIBYTE[:offset], MULTIBYTE[offset:]]) == expected


def test_invalid_bytes_split_at_every_offset_match_whole_decoding() -> None:
    stream = b"data: \xf0\x9f\x98 \xe2\x28\xa1 \xed\xa0\x80 \xf4\x90\x80\x80 \xc3\n\n"
    whole = decode_all([stream])
    assert whole == [stream[6:-2].decode("utf-8", "replace")]
    assert "\ufffd" in whole[0]
    for offset in range(len(stream) + 1):
        for second in range(offset, len(stream) + 1):
            assert decode_all(cut(stream, [offset, second])) == whole


def test_decoder_is_reusable_after_flush() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef\xbb\xbfdata: a\r") == []
    assert decoder.flush() == ["a"]
    # A new stream: its BOM is ignored again and the old CR does not swallow its first LF.
    assert decoder.feed(b"\xef\xbb\xbf\ndata: b\n\n") == ["b"]
    assert decoder.flush() == []


# --- any chunking equals the whole stream, and the whole stream equals the spec -----------------------

FRAGMENTS = [
    b"data: ",
    b"data:",
    b"data",
    b"event: x",
    b"id: 1",
    b"retry: 5",
    b": comment",
    b":",
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"\xef\xbb\xbf",
    b'{"type":"thread.item.updated","delta":"h\xc3\xa9"}',
    "é€😀".encode(),
    b" ",
    b"x",
]

streams = st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=4), max_size=40).map(b"".join)


@settings(max_examples=300)
@given(data=st.data(), stream=streams)
def test_any_chunking_gives_the_same_payloads(data: st.DataObject, stream: bytes) -> None:
    offsets = data.draw(st.lists(st.integers(0, len(stream)), max_size=12))
    whole = decode_all([stream])
    assert decode_all(cut(stream, offsets)) == whole
    assert whole == reference(stream)


@settings(max_examples=300)
@given(payloads=st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30), max_size=20))
def test_chatkit_shaped_streams_round_trip(payloads: list[str]) -> None:
    stream = "".join(f"data: {p}\n\n" for p in payloads).encode()
    # Only the space after the colon goes; one that starts the payload stays.
    assert decode_all([stream]) == payloads
    assert decode_all([stream[i : i + 3] for i in range(0, len(stream), 3)]) == payloads


# --- large events, the size limit and buffered_bytes --------------------------------------------------


def test_five_megabyte_event_in_small_chunks() -> None:
    value = "0123456789abcdef" * (5 * 1024 * 1024 // 16)
    stream = f'data: {{"delta":"{value}"}}\n\ndata: {{"after":1}}\n\n'.encode()
    decoder = SSEDecoder()
    payloads: list[str] = []
    for i in range(0, len(stream), 64):
        payloads += decoder.feed(stream[i : i + 64])
        if not payloads:
            # The incomplete event is held whole, nothing more: its size tracks what was fed.
            assert decoder.buffered_bytes == min(i + 64, len(stream))
    assert [json.loads(p) for p in payloads] == [{"delta": value}, {"after": 1}]
    assert decoder.buffered_bytes == 0


def test_buffered_bytes_counts_the_incomplete_tail() -> None:
    decoder = SSEDecoder()
    assert decoder.buffered_bytes == 0
    decoder.feed(b"data: abc")
    assert decoder.buffered_bytes == 9
    decoder.feed(b" \xc3\xa9 \xe2\x82")  # two bytes of an unfinished character are held too
    assert decoder.buffered_bytes == 9 + 4 + 2
    assert decoder.feed(b"\xac\n\ndata: x") == ["abc é €"]
    assert decoder.buffered_bytes == 7
    assert decoder.flush() == ["x"]
    assert decoder.buffered_bytes == 0


def test_default_limit() -> None:
    assert DEFAULT_MAX_EVENT_SIZE == 64 * 1024 * 1024
    assert SSEDecoder()._max_event_size == DEFAULT_MAX_EVENT_SIZE


@pytest.mark.parametrize("chunk_size", [1, 7, 1000])
def test_event_at_the_limit_passes(chunk_size: int) -> None:
    stream = b"data: " + b"x" * 94 + b"\n\n" + b"data: " + "é".encode() * 47 + b"\n\n"
    chunks = [stream[i : i + chunk_size] for i in range(0, len(stream), chunk_size)]
    assert decode_all(chunks, max_event_size=100) == ["x" * 94, "é" * 47]


@pytest.mark.parametrize(
    "event",
    [
        b"data: " + b"x" * 95,
        b"data: " + "é".encode() * 48,  # 48 characters but 102 bytes: the limit is in bytes
        b"data: a\ndata: " + b"x" * 87,  # several lines count together
        b": " + b"x" * 99,  # a comment that never ends holds memory all the same
    ],
)
@pytest.mark.parametrize("chunk_size", [1, 7, 1000])
def test_event_over_the_limit_raises(event: bytes, chunk_size: int) -> None:
    decoder = SSEDecoder(max_event_size=100)
    assert decoder.feed(b"data: ok\n\n") == ["ok"]
    stream = event + b"\n\n"
    chunks = [stream[i : i + chunk_size] for i in range(0, len(stream), chunk_size)]
    with pytest.raises(StreamDecodeError) as caught:
        for chunk in chunks:
            assert decoder.feed(chunk) == []
    assert "100 bytes" in str(caught.value)
    assert "max_event_size" in str(caught.value)


def test_unfinished_event_over_the_limit_raises_before_it_ends() -> None:
    decoder = SSEDecoder(max_event_size=1024 * 1024)
    chunk = b"data: " + b"y" * 65536
    with pytest.raises(StreamDecodeError) as caught:
        for _ in range(100):  # 6.4 MB, never a line end
            decoder.feed(chunk)
    assert decoder.buffered_bytes <= 1024 * 1024 + len(chunk)
    assert "1048576 bytes" in str(caught.value)
    excerpt = caught.value.data
    assert excerpt is not None and excerpt.startswith("data: yyy") and len(excerpt) <= 200
    assert caught.value.reply is None


def test_no_limit() -> None:
    big = b"z" * (3 * 1024 * 1024)
    assert decode_all([b"data: ", big, b"\n\n"], max_event_size=None) == [big.decode()]


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_invalid_limit_is_rejected(bad: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        SSEDecoder(max_event_size=bad)  # type: ignore[arg-type]
    assert caught.value.field == "max_event_size"
