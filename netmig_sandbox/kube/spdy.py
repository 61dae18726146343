"""A minimal SPDY/3.1 framer: what kubectl's port-forward speaks inside its WebSocket tunnel.

Why: kubectl >= 1.31 port-forwards over a WebSocket whose subprotocol is ``SPDY/3.1+portforward.k8s.io``: the
binary WebSocket messages carry a SPDY/3.1 byte stream (client-go ``portforward/tunneling_connection.go``), in
which the client opens one error and one data stream per forwarded connection.

Contract:
- ``Framer.feed(data) -> list[Frame]``: the complete frames in the bytes received so far (partial frames are kept
  for the next call). SYN_STREAM / SYN_REPLY / HEADERS header blocks are inflated with the SPDY/3 dictionary into
  ``Frame.headers`` (lower-case names, one value each, NUL-joined values kept as one string).
- ``Framer.syn_reply(stream_id, headers)``, ``data(stream_id, payload, fin)``, ``rst(stream_id, status)``,
  ``ping(id)``, ``goaway(last_id)`` build frames to send (header blocks deflated on one compression context per
  connection, as SPDY requires).
- ``ProtocolError`` for bytes that are not SPDY/3.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
RST_PROTOCOL_ERROR, RST_INVALID_STREAM, RST_REFUSED_STREAM, RST_CANCEL = 1, 2, 3, 5

_WORDS = (
    "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
    "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
    "content-base", "content-encoding", "content-language", "content-length", "content-location", "content-md5",
    "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host", "if-match",
    "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
    "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after",
    "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
    "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie",
    "keep-alive", "origin",
)
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
# The header-compression dictionary of SPDY/3 (draft 3, section 2.6.10.1): 1423 bytes.
DICTIONARY = b"".join(len(w).to_bytes(4, "big") + w.encode() for w in _WORDS) + _TAIL.encode()


class ProtocolError(ValueError):
    """Bytes that are not a valid SPDY/3 stream."""


@dataclass
class Frame:
    control: bool
    type: int  # control frame type, or 0 for data
    flags: int
    stream_id: int = 0
    payload: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    value: int = 0  # RST status, PING id, WINDOW_UPDATE delta, GOAWAY last stream

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


def _encode_headers(headers: dict[str, str]) -> bytes:
    out = struct.pack(">I", len(headers))
    for k, v in headers.items():
        kb, vb = k.lower().encode(), v.encode()
        out += struct.pack(">I", len(kb)) + kb + struct.pack(">I", len(vb)) + vb
    return out


def _decode_headers(block: bytes) -> dict[str, str]:
    try:
        (n,) = struct.unpack_from(">I", block, 0)
        pos, out = 4, {}
        for _ in range(n):
            (kl,) = struct.unpack_from(">I", block, pos)
            k = block[pos + 4:pos + 4 + kl].decode()
            pos += 4 + kl
            (vl,) = struct.unpack_from(">I", block, pos)
            v = block[pos + 4:pos + 4 + vl].decode()
            pos += 4 + vl
            out[k.lower()] = v
    except (struct.error, UnicodeDecodeError) as e:
        raise ProtocolError(f"malformed SPDY header block: {e}") from None
    return out


class Framer:
    """One SPDY connection's framing state (see the module contract)."""

    def __init__(self) -> None:
        self._buf = b""
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                                         zdict=DICTIONARY)

    def _inflate_block(self, data: bytes) -> dict[str, str]:
        try:
            raw = self._inflate.decompress(data)
        except zlib.error as e:
            raise ProtocolError(f"SPDY header block does not inflate: {e}") from None
        return _decode_headers(raw)

    def _deflate_block(self, headers: dict[str, str]) -> bytes:
        return self._deflate.compress(_encode_headers(headers)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            first, second = struct.unpack_from(">II", self._buf, 0)
            length = second & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            body = self._buf[8:8 + length]
            self._buf = self._buf[8 + length:]
            flags = second >> 24
            if first & 0x80000000:
                version = (first >> 16) & 0x7FFF
                ftype = first & 0xFFFF
                if version != VERSION:
                    raise ProtocolError(f"SPDY version {version} is not supported (only 3)")
                frames.append(self._control(ftype, flags, body))
            else:
                frames.append(Frame(False, 0, flags, first & 0x7FFFFFFF, body))
        return frames

    def _control(self, ftype: int, flags: int, body: bytes) -> Frame:
        try:
            if ftype == SYN_STREAM:
                (sid,) = struct.unpack_from(">I", body, 0)
                return Frame(True, ftype, flags, sid & 0x7FFFFFFF, headers=self._inflate_block(body[10:]))
            if ftype in (SYN_REPLY, HEADERS):
                (sid,) = struct.unpack_from(">I", body, 0)
                return Frame(True, ftype, flags, sid & 0x7FFFFFFF, headers=self._inflate_block(body[4:]))
            if ftype in (RST_STREAM, WINDOW_UPDATE):
                sid, value = struct.unpack_from(">II", body, 0)
                return Frame(True, ftype, flags, sid & 0x7FFFFFFF, value=value)
            if ftype == PING:
                (pid,) = struct.unpack_from(">I", body, 0)
                return Frame(True, ftype, flags, value=pid)
            if ftype == GOAWAY:
                (last,) = struct.unpack_from(">I", body, 0)
                return Frame(True, ftype, flags, value=last & 0x7FFFFFFF)
        except struct.error as e:
            raise ProtocolError(f"truncated SPDY control frame {ftype}: {e}") from None
        return Frame(True, ftype, flags, payload=body)  # SETTINGS and unknown types: ignored by the caller

    @staticmethod
    def _control_frame(ftype: int, flags: int, body: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, ftype, (flags << 24) | len(body)) + body

    def syn_reply(self, stream_id: int, headers: dict[str, str] | None = None, fin: bool = False) -> bytes:
        body = struct.pack(">I", stream_id) + self._deflate_block(headers or {})
        return self._control_frame(SYN_REPLY, FLAG_FIN if fin else 0, body)

    @staticmethod
    def data(stream_id: int, payload: bytes, fin: bool = False) -> bytes:
        return struct.pack(">II", stream_id & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(payload)) + payload

    def rst(self, stream_id: int, status: int = RST_CANCEL) -> bytes:
        return self._control_frame(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    def ping(self, ping_id: int) -> bytes:
        return self._control_frame(PING, 0, struct.pack(">I", ping_id))

    def goaway(self, last_stream_id: int) -> bytes:
        return self._control_frame(GOAWAY, 0, struct.pack(">II", last_stream_id, 0))
