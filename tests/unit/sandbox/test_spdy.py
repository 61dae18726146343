"""The SPDY/3.1 framer of the sandbox's port-forward tunnel: frames split across messages, header blocks on one
compression context, the frames the server builds."""

from __future__ import annotations

import struct
import zlib

import pytest

from netmig_sandbox.kube import spdy


def _client_headers(deflate: zlib._Compress, headers: dict[str, str]) -> bytes:
    raw = struct.pack(">I", len(headers))
    for k, v in headers.items():
        raw += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
    return deflate.compress(raw) + deflate.flush(zlib.Z_SYNC_FLUSH)


def _syn_stream(deflate: zlib._Compress, sid: int, headers: dict[str, str]) -> bytes:
    body = struct.pack(">IIBB", sid, 0, 0, 0) + _client_headers(deflate, headers)
    return struct.pack(">HHI", 0x8003, spdy.SYN_STREAM, len(body)) + body


def test_dictionary_is_spdy3s() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b"utf-,*,enq=0.")


def test_frames_split_anywhere_and_headers_share_one_context() -> None:
    deflate = zlib.compressobj(zdict=spdy.DICTIONARY)
    wire = (_syn_stream(deflate, 1, {"streamtype": "error", "port": "80", "requestid": "0"})
            + _syn_stream(deflate, 3, {"streamtype": "data", "port": "80", "requestid": "0"})
            + spdy.Framer.data(3, b"GET / HTTP/1.1\r\n\r\n", fin=True)
            + struct.pack(">HHII", 0x8003, spdy.PING, 4, 7))
    framer = spdy.Framer()
    frames = []
    for i in range(0, len(wire), 5):  # as if every WebSocket message carried 5 bytes
        frames += framer.feed(wire[i:i + 5])
    assert [(f.type, f.stream_id) for f in frames] == [(spdy.SYN_STREAM, 1), (spdy.SYN_STREAM, 3), (0, 3),
                                                       (spdy.PING, 0)]
    assert frames[0].headers == {"streamtype": "error", "port": "80", "requestid": "0"}
    assert frames[1].headers["streamtype"] == "data"
    assert frames[2].payload == b"GET / HTTP/1.1\r\n\r\n" and frames[2].fin
    assert frames[3].value == 7


def test_server_frames_parse_back() -> None:
    server = spdy.Framer()
    reader = spdy.Framer()
    out = server.syn_reply(1) + server.syn_reply(3, {"x": "y"}) + server.rst(5) + server.ping(2)
    frames = reader.feed(out)
    assert [(f.type, f.stream_id) for f in frames] == [(spdy.SYN_REPLY, 1), (spdy.SYN_REPLY, 3),
                                                       (spdy.RST_STREAM, 5), (spdy.PING, 0)]
    assert frames[1].headers == {"x": "y"} and frames[2].value == spdy.RST_CANCEL


def test_not_spdy3_is_a_protocol_error() -> None:
    with pytest.raises(spdy.ProtocolError):
        spdy.Framer().feed(struct.pack(">HHI", 0x8002, spdy.SYN_STREAM, 0))
