"""The devices port: the meters and sensors a worker registered, each with its own key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from earnest.services.ports.base import Unit


@dataclass(frozen=True)
class DeviceRecord:
    address: str  # the device's own Ed25519 key, as a Solana address
    owner: str
    label: str
    registered_at: datetime


class DevicesRepo(Protocol):
    def add(self, device: DeviceRecord) -> bool: ...
    def get(self, address: str) -> DeviceRecord | None: ...
    def of_owner(self, owner: str) -> list[DeviceRecord]: ...


class DevicesUnit(Unit, Protocol):
    @property
    def devices(self) -> DevicesRepo: ...
