"""``manage.py homecare_bridge``: the MQTT bridge process (see ``mairie.homecare.bridge`` and docs/homecare.md).

SIGTERM or Ctrl-C: the batch in progress is finished (committed and acknowledged), then the bridge disconnects;
whatever it had received but not processed stays unacknowledged and the broker delivers it again next time.
"""

from __future__ import annotations

import logging
import signal
from typing import Any

from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from mairie.homecare import live
from mairie.homecare.bridge import Bridge, BridgeConfig


class Command(BaseCommand):
    help = (
        "Run the homecare MQTT bridge: gateways' messages → events and alarms, acknowledged once committed."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", help="broker host (default: MAIRIE_MQTT_HOST)")
        parser.add_argument("--port", type=int, help="broker port (default: MAIRIE_MQTT_PORT)")
        parser.add_argument(
            "--client-id",
            help="fixed MQTT client id: the broker keeps this id's session (default: MAIRIE_MQTT_CLIENT_ID); "
            "each process of a shared group needs its own",
        )
        parser.add_argument(
            "--shared",
            action="store_true",
            help="subscribe through the shared group $share/mairie-bridge/... to split the work between processes",
        )
        parser.add_argument(
            "--batch-size", type=int, default=100, help="messages committed together (default 100)"
        )
        parser.add_argument(
            "--no-staging",
            action="store_true",
            help="never stage a backlog: apply every message before acknowledging it, however far behind "
            "(see mairie.homecare.staging; for comparisons); rows another bridge staged are still applied",
        )
        parser.add_argument(
            "--log-interval", type=float, default=60.0, help="seconds between two counter log lines"
        )
        parser.add_argument(
            "--handler",
            help="dotted path of another handler than ingest_message (benchmarks measure the bridge alone with "
            "one that does nothing); never in production",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        logging.getLogger("mairie.homecare").setLevel(logging.INFO)
        config = BridgeConfig.from_settings(
            host=options["host"],
            port=options["port"],
            client_id=options["client_id"],
            shared=options["shared"],
            batch_size=max(1, options["batch_size"]),
            staging=not options["no_staging"],
            log_interval_s=options["log_interval"],
        )
        handler = import_string(options["handler"]) if options["handler"] else None
        bridge = Bridge(config, handler=handler)
        live.keep_a_loop()  # an alarm's console event leaves without opening a connection to Redis each time

        def request_stop(signum: int, frame: object) -> None:
            bridge.stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, request_stop)
        self.stdout.write(
            f"homecare bridge {config.client_id} → {config.host}:{config.port} "
            f"({', '.join(config.subscriptions())})"
        )
        self.stdout.flush()
        bridge.run()
