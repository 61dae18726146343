"""Reading user-given files and numbers at the edge: one-line ``UsageError`` (exit 2) for anything unusable.

Contract:
- ``read_text(path, what, fix)`` returns the text of a regular, readable, UTF-8 file no bigger than ``max_bytes``.
  A missing path, a directory, a FIFO / device (anything that is not a regular file: reading it could block),
  an unreadable file, a file too big, one holding NUL bytes (binary) or not UTF-8 raises ``UsageError`` naming
  ``what`` and the path; nothing is read beyond ``max_bytes + 1`` bytes.
- ``seconds(value, flag)`` / ``check_seconds`` accept a finite number > 0 (``allow_zero``: >= 0); NaN, infinities
  and negatives are refused naming the flag.
- ``cidr(text, flag)`` returns a normalised IPv4/IPv6 network (``10.244.0.0/16``) or raises ``UsageError``:
  ``abc``, a missing prefix length and host bits set (``10.244.0.1/16``) are refused before anything is sent.
"""

from __future__ import annotations

import ipaddress
import math
import os
import stat
from pathlib import Path

from netmig.errors import UsageError

MAX_BYTES = 16 * 1024 * 1024  # plans, templates and scenarios are kilobytes; 16 MiB is far beyond any real one


def read_text(path: str | Path, what: str, fix: str, *, max_bytes: int = MAX_BYTES,
              missing_fix: str | None = None) -> str:
    """The UTF-8 text of the regular file ``path`` (see the module contract)."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise UsageError(f"{what} {p} does not exist", missing_fix or fix) from None
    except OSError as e:
        raise UsageError(f"{what} {p} cannot be read ({e.strerror or e.__class__.__name__})", fix) from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{what} {p} is a directory, not a file", fix)
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{what} {p} is not a regular file (a pipe, socket or device)", fix)
    if st.st_size > max_bytes:
        raise UsageError(f"{what} {p} is too large ({st.st_size} bytes; at most {max_bytes})", fix)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise UsageError(f"{what} {p} cannot be read ({e.strerror or e.__class__.__name__})", fix) from None
    if len(data) > max_bytes:
        raise UsageError(f"{what} {p} is too large (more than {max_bytes} bytes)", fix)
    if b"\x00" in data:
        raise UsageError(f"{what} {p} is a binary file, not text", fix)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{what} {p} is not UTF-8 text (byte {e.start})", fix) from None


def check_seconds(value: float | None, flag: str, *, allow_zero: bool = False) -> float | None:
    """``value`` when it is a finite number > 0 (>= 0 with ``allow_zero``); None passes through."""
    if value is None:
        return None
    bound = ">= 0" if allow_zero else "> 0"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value) \
            or value < 0 or (value == 0 and not allow_zero):
        raise UsageError(f"{flag} must be a finite number of seconds {bound}, got {value}",
                         f"pass e.g. {flag} 600")
    return float(value)


def cidr(text: str, flag: str = "--pod-cidr") -> str:
    """``text`` as a normalised network (see the module contract)."""
    raw = (text or "").strip()
    if "/" not in raw:
        raise UsageError(f"{flag} {text!r} is not a CIDR (ADDRESS/PREFIX)", f"pass e.g. {flag} 192.168.0.0/16")
    try:
        net = ipaddress.ip_network(raw, strict=True)
    except ValueError as e:
        msg = str(e)
        if "has host bits set" in msg:
            try:
                fixed = ipaddress.ip_network(raw, strict=False)
            except ValueError:
                fixed = None
            raise UsageError(f"{flag} {text!r} has host bits set", f"pass the network address, e.g. {flag} {fixed}"
                             if fixed else f"pass e.g. {flag} 192.168.0.0/16") from None
        raise UsageError(f"{flag} {text!r} is not a CIDR ({msg})", f"pass e.g. {flag} 192.168.0.0/16") from None
    return str(net)
