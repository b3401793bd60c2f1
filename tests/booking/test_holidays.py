from datetime import date

from mairie.booking.holidays import easter_sunday, french_public_holidays, is_public_holiday


def test_easter_dates():
    assert easter_sunday(2024) == date(2024, 3, 31)
    assert easter_sunday(2025) == date(2025, 4, 20)
    assert easter_sunday(2030) == date(2030, 4, 21)
    assert easter_sunday(2038) == date(2038, 4, 25)


def test_eleven_holidays_including_easter_based_ones():
    days = french_public_holidays(2025)
    assert len(days) == 11
    assert days[date(2025, 4, 21)] == "Lundi de Pâques"
    assert days[date(2025, 5, 29)] == "Ascension"
    assert days[date(2025, 6, 9)] == "Lundi de Pentecôte"
    assert is_public_holiday(date(2025, 7, 14)) and not is_public_holiday(date(2025, 7, 15))
