"""Network rules shared by the servers the toolkit starts (doccano, the model service)."""

from __future__ import annotations

import ipaddress


def check_port(port: int, any_free: bool = False) -> None:
    """ValueError unless ``port`` is a TCP port (0, any free one, only where allowed)."""
    lowest = 0 if any_free else 1
    if not lowest <= port <= 65535:
        raise ValueError(f"port {port} is not a TCP port ({lowest}-65535); "
                         "choose one with --port")


def is_loopback(host: str) -> bool:
    """True for an address only this machine reaches: localhost, 127.0.0.0/8, ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
