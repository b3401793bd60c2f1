"""French phone numbers, written any way people write them, kept as E.164 (+33612345678).

Accepted writings: ``06 12 34 56 78``, ``06.12.34.56.78``, ``06-12-34-56-78``, ``+33 6 12 34 56 78``,
``+33 (0)6 12 34 56 78``, ``0033 6 12 34 56 78``. Overseas departments dial ten digits like mainland France
but have their own country codes: ``0690 12 34 56`` is Guadeloupe, ``+590 690 12 34 56``.
Numbers from other countries are accepted when written with their ``+`` or ``00`` prefix.
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s.\-()/]")

# Ten-digit national prefixes of the overseas departments and their country codes (ARCEP numbering plan).
_OVERSEAS_PREFIXES = {
    "0590": "+590",  # Guadeloupe, Saint-Martin, Saint-Barthélemy (fixed)
    "0690": "+590",
    "0691": "+590",
    "0594": "+594",  # Guyane
    "0694": "+594",
    "0596": "+596",  # Martinique
    "0696": "+596",
    "0697": "+596",
    "0262": "+262",  # La Réunion, Mayotte
    "0263": "+262",
    "0269": "+262",
    "0692": "+262",
    "0693": "+262",
    "0639": "+262",
}
_FRENCH_MOBILE = re.compile(
    r"\+33[67]\d{8}|\+590(690|691)\d{6}|\+594694\d{6}|\+596(696|697)\d{6}|\+262(692|693|639)\d{6}"
)
_FRENCH_CODES = ("+33", "+590", "+594", "+596", "+262")


def normalise_phone(raw: str) -> str | None:
    """The number in E.164 form, or None when it is not a phone number we can use."""
    value = _SEPARATORS.sub("", raw or "")
    if value.startswith("00"):
        value = "+" + value[2:]
    if re.fullmatch(r"\+330[1-9]\d{8}", value):  # "+33 (0)6 …": the trunk zero written after the country code
        value = "+33" + value[4:]
    if re.fullmatch(r"0[1-9]\d{8}", value):
        overseas = _OVERSEAS_PREFIXES.get(value[:4])
        value = overseas + value[1:] if overseas else "+33" + value[1:]
    if re.fullmatch(r"\+33[1-9]\d{8}", value):
        return value
    if re.fullmatch(r"\+(590|594|596|262)[1-9]\d{8}", value):
        return value
    if re.fullmatch(r"\+(?!33)[1-9]\d{8,14}", value):  # 9 to 15 digits (E.164)
        return value
    return None


def is_mobile(e164: str) -> bool:
    """Whether an SMS can reach the number: French mobiles, and any foreign number (we cannot tell)."""
    if e164.startswith(_FRENCH_CODES):
        return bool(_FRENCH_MOBILE.fullmatch(e164))
    return bool(re.fullmatch(r"\+[1-9]\d{7,14}", e164))


def format_phone(e164: str) -> str:
    """A French number as people read it (``06 12 34 56 78``); others unchanged."""
    if re.fullmatch(r"\+33\d{9}", e164):
        national = "0" + e164[3:]
    elif re.fullmatch(r"\+(590|594|596|262)\d{9}", e164):
        national = "0" + e164[4:]
    else:
        return e164
    return " ".join(national[i : i + 2] for i in range(0, 10, 2))
