"""Devices with keys of their own (energy meters): register one, list mine."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from earnest.api.deps import Caller, MarketDep
from earnest.api.schemas import Body
from earnest.services.devices import RegisterDevice
from earnest.services.ports import DeviceRecord

router = APIRouter(tags=["devices"])


class DeviceIn(Body):
    address: str = Field(min_length=32, max_length=44, description="the device's public key")
    label: str = Field("", max_length=100)
    signature: str = Field(
        min_length=64,
        max_length=100,
        description="the device key's signature of 'Earnest device registration: "
        "<address> belongs to <your address>' (base58)",
    )


class DeviceOut(BaseModel):
    address: str
    owner: str
    label: str
    registered_at: datetime

    @classmethod
    def of(cls, d: DeviceRecord) -> DeviceOut:
        return cls(address=d.address, owner=d.owner, label=d.label, registered_at=d.registered_at)


@router.post("/me/devices", response_model=DeviceOut, status_code=201)
def register(body: DeviceIn, who: Caller, m: MarketDep) -> DeviceOut:
    """Register a device to me, proven by its own key's signature."""
    found = m.devices.register(RegisterDevice(who, body.address, body.label, body.signature))
    return DeviceOut.of(found)


@router.get("/me/devices", response_model=list[DeviceOut])
def mine(who: Caller, m: MarketDep) -> list[DeviceOut]:
    """The devices registered to me."""
    return [DeviceOut.of(d) for d in m.devices.of(who)]
