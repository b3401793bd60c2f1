"""Benchmark settings: the production settings, plus a minimal view to compare pages with.

Used only by ``bench/run.py`` (``make bench``); the production URLconf never contains the minimal view.
"""

from mairie.settings.prod import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
# The benchmark talks plain HTTP on the loopback interface; everything else stays as in production.
SECURE_SSL_REDIRECT = False
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
