"""Devices with keys of their own (meters), and the facts their signed readings give.

A worker registers a device by showing they hold its key: the device signs
`registration_message(device, owner)`. Energy answers carry readings the device signed;
when one is sent, the market checks the device's owner and each signature and stores the
result as the answer's facts, which the (pure) energy verifier judges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from earnest.domain.errors import Conflict, InvalidInput
from earnest.quality.energy import reading_message
from earnest.services.chain_port import Crypto
from earnest.services.identity import Principal
from earnest.services.ports import Clock, DeviceRecord, DevicesStore, DevicesUnit, QualityUnit

MAX_READINGS = 2_000


class AttestingUnit(DevicesUnit, QualityUnit, Protocol):
    """An answer's device check reads the devices and writes the answer's facts."""


def registration_message(device: str, owner: str) -> bytes:
    """What a device signs to be registered to `owner`."""
    return f"Earnest device registration: {device} belongs to {owner}".encode()


@dataclass(frozen=True)
class RegisterDevice:
    """Register the device whose key is `device` to the caller; `signature` is the device
    key's signature of `registration_message(device, who.address)`."""

    who: Principal
    device: str
    label: str
    signature: str


def register_device(
    cmd: RegisterDevice, *, store: DevicesStore, crypto: Crypto, clock: Clock
) -> DeviceRecord:
    """Register a device to the caller, proven by the device's own signature."""
    who, device, label, signature = cmd.who, cmd.device, cmd.label, cmd.signature
    who.require("work")
    if not crypto.is_address(device):
        raise InvalidInput("device must be the device's public key, as a Solana address")
    if not crypto.verify(device, registration_message(device, who.address), signature):
        raise InvalidInput(
            "signature must be the device key's signature of "
            f"{registration_message(device, who.address).decode()!r}"
        )
    record = DeviceRecord(device, who.address, label.strip()[:100] or "device", clock.now())
    with store.uow() as uow:
        if not uow.devices.add(record):
            raise Conflict("this device is registered already")
        uow.commit()
    return record


def my_devices(who: Principal, *, store: DevicesStore) -> list[DeviceRecord]:
    with store.uow(readonly=True) as uow:
        return uow.devices.of_owner(who.address)


def attest_readings(
    uow: AttestingUnit,
    crypto: Crypto,
    assignment_id: str,
    task_id: int,
    campaign_id: str,
    worker: str,
    answer: Any,
    now: datetime,
) -> None:
    """Store, as the answer's facts, whether its device is the worker's and which
    readings its key signed."""
    device = answer.get("device") if isinstance(answer, dict) else None
    readings = answer.get("readings") if isinstance(answer, dict) else None
    if not isinstance(readings, list) or len(readings) > MAX_READINGS:
        raise InvalidInput(f"readings must be a list of at most {MAX_READINGS} signed readings")
    known = isinstance(device, str) and crypto.is_address(device)
    found = uow.devices.get(str(device)) if known else None
    signed = [known and _signed(crypto, str(device), r) for r in readings]
    facts = {"device_registered": found is not None and found.owner == worker, "signed": signed}
    uow.facts.add(assignment_id, task_id, campaign_id, facts, now)


def _signed(crypto: Crypto, device: str, reading: Any) -> bool:
    if not isinstance(reading, dict) or not isinstance(reading.get("signature"), str):
        return False
    wh = reading.get("wh")
    if isinstance(wh, bool) or not isinstance(wh, int | float):
        return False
    message = reading_message(device, str(reading.get("at")), wh)
    return crypto.verify(device, message, reading["signature"])
