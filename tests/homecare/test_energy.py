"""Energy: daily, weekly and monthly use from Linky readings, the chart (SVG) with the same numbers in a table, and
the unusual-use notice (outside median ± 3 MAD of the last 28 days, or no use for 24 hours)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from mairie.homecare import energy
from mairie.homecare.models import EnergyReading, Home
from tests.homecare.homes_support import make_home
from tests.homecare.people_support import client_as

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=PARIS)
TODAY = date(2026, 11, 26)


@pytest.fixture
def world(commune):
    with time_machine.travel(NOW, tick=False):
        return make_home(commune, now=NOW)


def readings(world, points: list[tuple[datetime, int]]) -> None:
    with scopes_disabled():
        EnergyReading.objects.bulk_create(
            [
                EnergyReading(
                    commune=world.commune,
                    home=world.home,
                    device=world.devices["meter"],
                    at=at,
                    index_wh=index,
                )
                for at, index in points
            ]
        )


def days_of_use(world, uses: list[int], *, first: date, hours=(0, 8, 20)) -> int:
    """Readings at the given hours of each day, the index growing by ``uses[i]`` over day i; returns the index."""
    index = 1_000_000
    points = []
    for n, use in enumerate(uses):
        day = first + timedelta(days=n)
        for k, hour in enumerate(hours):
            # The day's use is spread over its readings; the first reading of the day comes after midnight.
            index += use // len(hours) if k else use - (use // len(hours)) * (len(hours) - 1)
            points.append((datetime(day.year, day.month, day.day, hour, 30, tzinfo=PARIS), index))
    readings(world, points)
    return index


def test_a_meter_index_that_jumps_makes_that_day_unknown_not_unusual(world):
    """A meter replaced, or a garbled reading: 2,500 kWh in a day is more than a home's meter can deliver."""
    first = TODAY - timedelta(days=20)
    index = days_of_use(world, [7_000] * 20, first=first)
    readings(
        world, [(NOW - timedelta(hours=2), index + 3_000), (NOW - timedelta(hours=1), index + 2_500_000)]
    )
    with scope(commune=world.commune):
        days = energy.daily_wh(world.home, first=TODAY - timedelta(days=1), last=TODAY)
        assert days == {
            TODAY - timedelta(days=1): 7_000,
            TODAY: None,
        }  # shown « — », as a day without readings
        assert energy.unusual_consumption(world.home, now=NOW) is None


def test_a_days_use_runs_from_the_previous_days_last_reading(world):
    readings(
        world,
        [
            (datetime(2026, 11, 24, 22, 0, tzinfo=PARIS), 10_000),
            (
                datetime(2026, 11, 25, 0, 30, tzinfo=PARIS),
                10_300,
            ),  # the 300 Wh around midnight belong to the 25th
            (datetime(2026, 11, 25, 12, 0, tzinfo=PARIS), 12_000),
            (datetime(2026, 11, 25, 23, 0, tzinfo=PARIS), 15_500),
            (datetime(2026, 11, 26, 9, 0, tzinfo=PARIS), 16_700),
        ],
    )
    with scope(commune=world.commune):
        days = energy.daily_wh(world.home, first=date(2026, 11, 23), last=TODAY)
    assert days == {
        date(2026, 11, 23): None,  # no reading: unknown, not zero
        date(2026, 11, 24): 0,  # the first day with one reading: nothing measurable
        date(2026, 11, 25): 5_500,
        date(2026, 11, 26): 1_200,
    }


def test_days_are_local_days_not_utc_days(world):
    # 23:30 in Paris is 22:30 UTC: still the 25th.
    readings(
        world,
        [
            (datetime(2026, 11, 25, 0, 10, tzinfo=PARIS), 0),
            (datetime(2026, 11, 25, 23, 30, tzinfo=PARIS), 4_000),
            (datetime(2026, 11, 26, 0, 30, tzinfo=PARIS), 4_100),
        ],
    )
    with scope(commune=world.commune):
        days = energy.daily_wh(world.home, first=date(2026, 11, 25), last=TODAY)
    assert days == {date(2026, 11, 25): 4_000, date(2026, 11, 26): 100}


def test_weeks_and_months_add_up_the_days(world):
    days_of_use(world, [6_000] * 40, first=TODAY - timedelta(days=39))
    with scope(commune=world.commune), time_machine.travel(NOW, tick=False):
        week_bars = energy.usage(world.home, period="week", now=NOW)
        month_bars = energy.usage(world.home, period="month", now=NOW)
        day_bars = energy.usage(world.home, period="day", now=NOW)
    assert len(day_bars) == 14 and day_bars[-2].wh == 6_000
    # The week of Monday 16 November: seven full days.
    week = next(b for b in week_bars if b.start == date(2026, 11, 16))
    assert week.wh == 7 * 6_000 and week.label == "sem. du 16/11"
    november = next(b for b in month_bars if b.start == date(2026, 11, 1))
    october = next(b for b in month_bars if b.start == date(2026, 10, 1))
    assert november.wh == 26 * 6_000
    # October holds 14 days (from the 18th); the first has no reading before it, so only what was used between its
    # own first and last readings counts (4 000 of its 6 000 Wh).
    assert october.wh == 13 * 6_000 + 4_000


def test_usual_band_is_median_plus_or_minus_three_mad_with_a_floor():
    assert energy.usual_band([5_000, 5_200, 4_800, 5_100, 4_900, 6_000, 4_000]) == (5_000, 4_250, 5_750)
    # A very regular home: MAD 0, the floor (15 % of the median, 300 Wh at least) keeps the band open.
    assert energy.usual_band([5_000] * 20) == (5_000, 4_250, 5_750)


def test_yesterday_far_above_usual_is_noticed(world):
    days_of_use(
        world,
        [5_000, 5_200, 4_800, 5_100, 4_900] * 6 + [14_000],
        first=TODAY - timedelta(days=31),
        hours=(0, 12, 23),
    )
    with scope(commune=world.commune):
        notice = energy.unusual_consumption(world.home, now=NOW)
    assert notice is not None and notice.kind == "high" and notice.day == TODAY - timedelta(days=1)
    assert notice.wh == 14_000
    assert "Hier, 14,0 kWh consommés : bien plus que d'habitude" in notice.message


def test_yesterday_far_below_usual_is_noticed_but_not_when_away(world):
    days_of_use(
        world,
        [5_000, 5_200, 4_800, 5_100, 4_900] * 6 + [900],
        first=TODAY - timedelta(days=31),
        hours=(0, 12, 23),
    )
    with scope(commune=world.commune):
        notice = energy.unusual_consumption(world.home, now=NOW)
        assert notice is not None and notice.kind == "low"
        Home.objects.filter(pk=world.home.pk).update(mode=Home.Mode.HOSPITAL)
        world.home.refresh_from_db()
        assert energy.unusual_consumption(world.home, now=NOW) is None


def test_an_ordinary_day_and_a_short_history_say_nothing(world):
    days_of_use(
        world,
        [5_000, 5_200, 4_800, 5_100, 4_900] * 6 + [5_300],
        first=TODAY - timedelta(days=31),
        hours=(0, 12, 23),
    )
    with scope(commune=world.commune):
        assert energy.unusual_consumption(world.home, now=NOW) is None


def test_too_little_history_says_nothing(commune):
    with time_machine.travel(NOW, tick=False):
        world = make_home(commune, now=NOW)
    days_of_use(world, [5_000] * 5 + [20_000], first=TODAY - timedelta(days=6), hours=(0, 12, 23))
    with scope(commune=world.commune):
        assert energy.unusual_consumption(world.home, now=NOW) is None


def test_today_already_above_a_whole_usual_day_is_noticed_before_the_day_ends(world):
    index = days_of_use(world, [5_000] * 30, first=TODAY - timedelta(days=30), hours=(0, 12, 23))
    readings(world, [(NOW - timedelta(hours=1), index + 9_000)])
    with scope(commune=world.commune):
        notice = energy.unusual_consumption(world.home, now=NOW)
    assert notice is not None and notice.kind == "high" and notice.day == TODAY


def test_no_use_for_24_hours_while_the_meter_reports(world):
    start = NOW - timedelta(hours=30)
    readings(world, [(start + timedelta(hours=h), 50_000) for h in range(0, 31, 2)])
    with scope(commune=world.commune):
        notice = energy.unusual_consumption(world.home, now=NOW)
        assert notice is not None and notice.kind == "zero"
        # One watt-hour used in the window: not zero.
        EnergyReading.objects.create(
            commune=world.commune, home=world.home, at=NOW - timedelta(hours=3), index_wh=50_001
        )
        assert energy.unusual_consumption(world.home, now=NOW) is None


def test_a_silent_meter_is_not_zero_use(world):
    readings(world, [(NOW - timedelta(hours=30), 50_000), (NOW - timedelta(hours=5), 50_000)])
    with scope(commune=world.commune):
        assert energy.unusual_consumption(world.home, now=NOW) is None  # supervision alarms cover silence


def test_the_page_shows_the_chart_and_the_same_numbers_in_a_table(world):
    days_of_use(world, [4_000 + 100 * n for n in range(20)], first=TODAY - timedelta(days=19))
    relative = client_as(world.commune, world.contacts[0].user)
    with time_machine.travel(NOW, tick=False):
        response = relative.get(reverse("homecare:family_energy", args=[world.home.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    assert '<svg viewBox="0 0 640 240"' in text and 'role="img"' in text
    assert text.count('class="bar"') == 14
    # Yesterday's bar and row: 5 800 Wh → 5,8 kWh, in the bar's title and in the table.
    assert "25/11 : 5,8 kWh" in text and "<td>25/11</td><td>5,8</td>" in text
    with time_machine.travel(NOW, tick=False):
        weekly = relative.get(reverse("homecare:family_energy", args=[world.home.pk]), {"periode": "semaine"})
    assert "sem. du 23/11" in weekly.content.decode()


def test_the_notice_shows_on_the_home_file_and_to_relatives(world):
    from mairie.core.models import Role
    from tests.factories import make_user

    days_of_use(
        world,
        [5_000, 5_200, 4_800, 5_100, 4_900] * 6 + [14_000],
        first=TODAY - timedelta(days=31),
        hours=(0, 12, 23),
    )
    operator = make_user(world.commune, Role.OPERATOR)
    with time_machine.travel(NOW, tick=False):
        file = client_as(world.commune, operator).get(reverse("homecare:console_home", args=[world.home.pk]))
        relative = client_as(world.commune, world.contacts[0].user).get(reverse("homecare:family"))
    assert "Consommation inhabituelle" in file.content.decode()
    assert "Consommation inhabituelle" in relative.content.decode()
