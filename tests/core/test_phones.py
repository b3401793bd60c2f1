"""French phone numbers, however people write them."""

from __future__ import annotations

import pytest

from mairie.core.phones import format_phone, is_mobile, normalise_phone


@pytest.mark.parametrize(
    "written",
    [
        "06 12 34 56 78",
        "0612345678",
        "06.12.34.56.78",
        "06-12-34-56-78",
        " 06 12 34 56 78 ",
        "+33 6 12 34 56 78",
        "+33612345678",
        "+33 (0)6 12 34 56 78",
        "0033 6 12 34 56 78",
        "0033612345678",
        "(06) 12 34 56 78",
    ],
)
def test_every_french_writing_of_a_mobile_gives_the_same_number(written):
    assert normalise_phone(written) == "+33612345678"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("07 80 12 34 56", "+33780123456"),
        ("02 99 12 34 56", "+33299123456"),
        ("0690 12 34 56", "+590690123456"),  # Guadeloupe
        ("0696 12 34 56", "+596696123456"),  # Martinique
        ("0694 12 34 56", "+594694123456"),  # Guyane
        ("0692 12 34 56", "+262692123456"),  # La Réunion
        ("0639 12 34 56", "+262639123456"),  # Mayotte
        ("+590 690 12 34 56", "+590690123456"),
        ("+32 470 12 34 56", "+32470123456"),  # Belgium, written with its prefix
        ("0041 79 123 45 67", "+41791234567"),
    ],
)
def test_other_numbers(written, expected):
    assert normalise_phone(written) == expected


@pytest.mark.parametrize(
    "written",
    [
        "",
        "   ",
        "06 12 34 56",
        "06 12 34 56 78 90",
        "00 12 34 56 78",
        "marie.dupont.4821",
        "06 12 34 56 7a",
        "+33",
    ],
)
def test_what_is_not_a_phone_number_is_refused(written):
    assert normalise_phone(written) is None


def test_only_mobiles_receive_sms():
    assert is_mobile("+33612345678")
    assert is_mobile("+33712345678")
    assert is_mobile("+590690123456")
    assert not is_mobile("+33299123456")  # Rennes landline
    assert not is_mobile("+590590123456")  # Guadeloupe landline
    assert is_mobile("+32470123456")  # abroad: we cannot tell, the provider will


def test_numbers_read_back_the_french_way():
    assert format_phone("+33612345678") == "06 12 34 56 78"
    assert format_phone("+590690123456") == "06 90 12 34 56"
    assert format_phone("+32470123456") == "+32470123456"
