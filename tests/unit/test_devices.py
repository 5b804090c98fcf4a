"""Registering a device, on the use case over the in-memory devices store (tests/fakes)."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair

from earnest.adapters.chain import MarketCrypto, Wallet
from earnest.domain.errors import Conflict, Forbidden, InvalidInput
from earnest.services.devices import (
    RegisterDevice,
    my_devices,
    register_device,
    registration_message,
)
from earnest.services.identity import Principal
from tests.factories import FakeClock, principal
from tests.fakes import FakeStore

CRYPTO = MarketCrypto(Keypair())


def register(store: FakeStore, cmd: RegisterDevice) -> None:
    register_device(cmd, store=store, crypto=CRYPTO, clock=FakeClock())


def proof(meter: Wallet, owner: str) -> str:
    return meter.sign_message(registration_message(meter.address, owner))


def test_a_device_is_registered_once_to_the_owner_its_key_signed_for() -> None:
    store, meter = FakeStore(), Wallet.generate()
    owner, other = principal(Wallet.generate().address), principal(Wallet.generate().address)
    register(
        store, RegisterDevice(owner, meter.address, "  kitchen meter ", proof(meter, owner.address))
    )
    [found] = my_devices(owner, store=store)
    assert (found.address, found.owner, found.label) == (
        meter.address,
        owner.address,
        "kitchen meter",
    )
    with pytest.raises(Conflict):  # to anyone, however well proven
        register(store, RegisterDevice(other, meter.address, "", proof(meter, other.address)))
    assert my_devices(other, store=store) == []


def test_a_signature_for_another_owner_or_message_is_refused() -> None:
    store, meter = FakeStore(), Wallet.generate()
    owner, thief = principal(Wallet.generate().address), principal(Wallet.generate().address)
    for signature in (proof(meter, owner.address), meter.sign_message(b"something else"), ""):
        with pytest.raises(InvalidInput, match="signature must be the device key's"):
            register(store, RegisterDevice(thief, meter.address, "", signature))
    with pytest.raises(InvalidInput, match="public key"):
        register(store, RegisterDevice(owner, "not a key", "", proof(meter, owner.address)))
    assert store.rows.devices == {}


def test_a_label_is_cut_to_100_characters_and_defaults_to_device() -> None:
    store, owner = FakeStore(), principal(Wallet.generate().address)
    long, blank = Wallet.generate(), Wallet.generate()
    register(store, RegisterDevice(owner, long.address, "x" * 300, proof(long, owner.address)))
    register(store, RegisterDevice(owner, blank.address, "   ", proof(blank, owner.address)))
    assert sorted(d.label for d in my_devices(owner, store=store)) == ["device", "x" * 100]


def test_a_key_without_the_work_scope_registers_nothing() -> None:
    store, meter = FakeStore(), Wallet.generate()
    reader = Principal(Wallet.generate().address, ("campaigns:read",), "api_key:key_1")
    with pytest.raises(Forbidden):
        register(store, RegisterDevice(reader, meter.address, "", proof(meter, reader.address)))
