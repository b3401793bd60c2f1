from .alarms import Alarm, AlarmEvent
from .automation import HeatingSetpoint, Schedule
from .bridge import BridgeCounter, BridgeDeadLetter
from .events import DeviceEvent, EnergyReading
from .homes import Contact, Device, Gateway, Home

__all__ = [
    "Alarm",
    "AlarmEvent",
    "BridgeCounter",
    "BridgeDeadLetter",
    "Contact",
    "Device",
    "DeviceEvent",
    "EnergyReading",
    "Gateway",
    "HeatingSetpoint",
    "Home",
    "Schedule",
]
