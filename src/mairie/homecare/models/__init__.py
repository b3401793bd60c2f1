from .alarms import Alarm, AlarmEvent
from .automation import HeatingSetpoint, Schedule
from .bridge import BridgeCounter, BridgeDeadLetter, StagedMessage
from .commands import DeviceCommand
from .events import DeviceEvent, EnergyReading
from .homes import Contact, Device, Gateway, Home
from .tablet import ServiceRequest, TabletKey

__all__ = [
    "Alarm",
    "AlarmEvent",
    "BridgeCounter",
    "BridgeDeadLetter",
    "Contact",
    "Device",
    "DeviceCommand",
    "DeviceEvent",
    "EnergyReading",
    "Gateway",
    "HeatingSetpoint",
    "Home",
    "Schedule",
    "ServiceRequest",
    "StagedMessage",
    "TabletKey",
]
