"""`earnest chain serve`'s cluster-wide methods, parsed by solana-py (solders' own response
types, so an answer it accepts has Solana's shape)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from solana.rpc.async_api import AsyncClient
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.system_program import TransferParams, transfer

from earnest.adapters.chain.rpc_server import Params
from tests.rpc_helpers import Node, running_node


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    with running_node(tmp_path_factory.mktemp("cluster")) as served:
        yield served


def _ask(node: Node, work: Any) -> Any:
    async def run() -> Any:
        async with AsyncClient(node.url) as rpc:
            return await work(rpc)

    return asyncio.run(run())


def test_epoch_info_and_schedule_agree_with_the_slot(node: Node) -> None:
    async def work(rpc: AsyncClient) -> Any:
        return (
            (await rpc.get_epoch_info()).value,
            (await rpc.get_epoch_schedule()).value,
            (await rpc.get_slot()).value,
        )

    info, schedule, slot = _ask(node, work)
    assert info.absolute_slot == info.block_height == slot
    assert 0 <= info.slot_index < info.slots_in_epoch == schedule.slots_per_epoch
    assert info.transaction_count >= 1  # the mint's creation


def test_genesis_hash_identity_and_supply(node: Node) -> None:
    async def work(rpc: AsyncClient) -> Any:
        return (
            (await rpc.get_genesis_hash()).value,
            (await rpc.get_identity()).value,
            (await rpc.get_supply()).value,
        )

    genesis, identity, supply = _ask(node, work)
    assert genesis == _ask(node, lambda rpc: rpc.get_genesis_hash()).value  # stable
    assert str(identity.identity) != str(Hash.default())
    assert supply.total == supply.circulating > 0 and supply.non_circulating == 0


def test_fee_for_message_counts_signatures_and_the_priority_price(node: Node) -> None:
    payer = Keypair()
    blockhash = Hash.from_string(node.local.latest_blockhash())
    move = transfer(
        TransferParams(from_pubkey=payer.pubkey(), to_pubkey=payer.pubkey(), lamports=1)
    )
    plain = Message.new_with_blockhash([move], payer.pubkey(), blockhash)
    priced = MessageV0.try_compile(
        payer.pubkey(),
        [set_compute_unit_limit(10_000), set_compute_unit_price(1_000_000), move],
        [],
        blockhash,
    )
    stale = Message.new_with_blockhash([move], payer.pubkey(), Hash.new_unique())

    async def work(rpc: AsyncClient) -> Any:
        return [(await rpc.get_fee_for_message(m)).value for m in (plain, priced, stale)]

    # 5,000 a signature; 1 lamport per unit for 10,000 units; null for an unknown blockhash.
    assert _ask(node, work) == [5000, 15000, None]


# Solana's HTTP methods (solana.com/docs/rpc/http), the deprecated ones aside.
STANDARD = [
    "getAccountInfo",
    "getBalance",
    "getBlock",
    "getBlockCommitment",
    "getBlockHeight",
    "getBlockProduction",
    "getBlocks",
    "getBlocksWithLimit",
    "getBlockTime",
    "getClusterNodes",
    "getEpochInfo",
    "getEpochSchedule",
    "getFeeForMessage",
    "getFirstAvailableBlock",
    "getGenesisHash",
    "getHealth",
    "getHighestSnapshotSlot",
    "getIdentity",
    "getInflationGovernor",
    "getInflationRate",
    "getInflationReward",
    "getLargestAccounts",
    "getLatestBlockhash",
    "getLeaderSchedule",
    "getMaxRetransmitSlot",
    "getMaxShredInsertSlot",
    "getMinimumBalanceForRentExemption",
    "getMultipleAccounts",
    "getProgramAccounts",
    "getRecentPerformanceSamples",
    "getRecentPrioritizationFees",
    "getSignaturesForAddress",
    "getSignatureStatuses",
    "getSlot",
    "getSlotLeader",
    "getSlotLeaders",
    "getStakeMinimumDelegation",
    "getSupply",
    "getTokenAccountBalance",
    "getTokenAccountsByDelegate",
    "getTokenAccountsByOwner",
    "getTokenLargestAccounts",
    "getTokenSupply",
    "getTransaction",
    "getTransactionCount",
    "getVersion",
    "getVoteAccounts",
    "isBlockhashValid",
    "minimumLedgerSlot",
    "requestAirdrop",
    "sendTransaction",
    "simulateTransaction",
]


def test_every_standard_method_is_answered(node: Node) -> None:
    assert sorted(set(STANDARD) - set(node.handlers)) == []


def test_this_node_leads_and_produces_every_block(node: Node) -> None:
    async def work(rpc: AsyncClient) -> Any:
        identity = (await rpc.get_identity()).value.identity
        slot = (await rpc.get_slot()).value
        return identity, slot

    identity, slot = _ask(node, work)
    produced = node.handlers["getBlockProduction"]
    value = produced(Params([]))["value"]
    first = value["range"]["firstSlot"]
    assert value["range"]["lastSlot"] == slot
    assert value["byIdentity"] == {str(identity): [slot - first + 1, slot - first + 1]}
    schedule = node.handlers["getLeaderSchedule"](Params([]))
    assert list(schedule) == [str(identity)] and schedule[str(identity)][:3] == [0, 1, 2]
