"""In-memory devices repository: a device key is registered once, to one owner."""

from __future__ import annotations

from earnest.services.ports import DeviceRecord


class FakeDevices:
    def __init__(self, rows: dict[str, DeviceRecord]) -> None:
        self.rows = rows

    def add(self, device: DeviceRecord) -> bool:
        if device.address in self.rows:
            return False
        self.rows[device.address] = device
        return True

    def get(self, address: str) -> DeviceRecord | None:
        return self.rows.get(address)

    def of_owner(self, owner: str) -> list[DeviceRecord]:
        mine = [d for d in self.rows.values() if d.owner == owner]
        return sorted(mine, key=lambda d: d.registered_at)
