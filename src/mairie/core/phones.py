"""French mobile numbers, written any way people write them, kept as E.164 (+33612345678)."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s.\-()/]")


def normalise_phone(raw: str) -> str | None:
    value = _SEPARATORS.sub("", raw or "")
    if value.startswith("00"):
        value = "+" + value[2:]
    if re.fullmatch(r"0[1-9]\d{8}", value):
        value = "+33" + value[1:]
    if re.fullmatch(r"\+33[1-9]\d{8}", value) or re.fullmatch(r"\+(?!33)[1-9]\d{7,14}", value):
        return value
    return None


def is_mobile(e164: str) -> bool:
    return bool(re.fullmatch(r"\+33[67]\d{8}", e164)) or not e164.startswith("+33")
