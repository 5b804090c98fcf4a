"""The cluster-wide methods of `earnest chain serve`: epochs, genesis, identity, fees, supply.

One node makes every block, has no stake, votes or inflation, and charges 5,000 lamports a
signature with no priority-fee market; each answer says so in Solana's shapes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from typing import Any

from solders.hash import Hash
from solders.message import from_bytes_versioned
from solders.pubkey import Pubkey

from earnest.adapters.chain.rpc_server import Handler, Params, RpcError, invalid
from earnest.adapters.chain.runtime import Runtime

FEE_PER_SIGNATURE = 5000  # lamports, LiteSVM's default as on Solana
_MAX_SLOT_LEADERS = 5000  # getSlotLeaders
Json = dict[str, Any]
Context = Callable[[Json, Any], Json]  # LocalRpc._context: wraps a value in its context


class ClusterMethods:
    """Epoch, genesis, identity, fee and supply methods over one runtime."""

    def __init__(self, runtime: Runtime, mint: str, context: Context) -> None:
        self._runtime = runtime
        self._context = context  # LocalRpc._context: the {"context", "value"} wrapper
        seed = hashlib.sha256(b"earnest-chain-genesis" + mint.encode()).digest()
        self.genesis_hash = str(Hash(seed))  # stable for a state file: derived from its mint
        self.identity = str(Pubkey(hashlib.sha256(b"earnest-chain-identity" + seed).digest()))

    def handlers(self) -> dict[str, Handler]:
        return {
            "getEpochInfo": self.get_epoch_info,
            "getEpochSchedule": self.get_epoch_schedule,
            "getGenesisHash": lambda params: self.genesis_hash,
            "getIdentity": lambda params: {"identity": self.identity},
            "getFeeForMessage": self.get_fee_for_message,
            "getRecentPrioritizationFees": self.get_recent_prioritization_fees,
            "getTransactionCount": lambda params: self._runtime.transaction_count(),
            "getSlotLeader": lambda params: self.identity,
            "getSlotLeaders": self.get_slot_leaders,
            "getClusterNodes": self.get_cluster_nodes,
            "getVoteAccounts": lambda params: {"current": [], "delinquent": []},
            "getInflationGovernor": lambda params: _no_inflation_governor(),
            "getInflationRate": self.get_inflation_rate,
            "getInflationReward": self.get_inflation_reward,
            "getStakeMinimumDelegation": lambda params: self._context(params.config(0), 1),
            "getMaxRetransmitSlot": lambda params: self._runtime.height,
            "getMaxShredInsertSlot": lambda params: self._runtime.height,
            "getHighestSnapshotSlot": self.get_highest_snapshot_slot,
            "getRecentPerformanceSamples": lambda params: [],
            "getSupply": self.get_supply,
            "getLeaderSchedule": self.get_leader_schedule,
            "getLargestAccounts": self.get_largest_accounts,
        }

    def get_epoch_info(self, params: Params) -> Json:
        """The epoch of the current slot; slot and block height are one here."""
        params.config(0)
        slot = self._runtime.height
        schedule = self._runtime.epoch_schedule()
        epoch, index = schedule.get_epoch_and_slot_index(slot)
        return {
            "absoluteSlot": slot,
            "blockHeight": slot,
            "epoch": epoch,
            "slotIndex": index,
            "slotsInEpoch": schedule.get_slots_in_epoch(epoch),
            "transactionCount": self._runtime.transaction_count(),
        }

    def get_epoch_schedule(self, params: Params) -> Json:
        schedule = self._runtime.epoch_schedule()
        return {
            "slotsPerEpoch": schedule.slots_per_epoch,
            "leaderScheduleSlotOffset": schedule.leader_schedule_slot_offset,
            "warmup": schedule.warmup,
            "firstNormalEpoch": schedule.first_normal_epoch,
            "firstNormalSlot": schedule.first_normal_slot,
        }

    def get_fee_for_message(self, params: Params) -> Json:
        """5,000 lamports a signature plus the compute-unit price asked; null for a message
        whose blockhash can no longer land, as Solana answers."""
        text, config = params.string(0), params.config(1)
        try:
            message = from_bytes_versioned(base64.b64decode(text, validate=True))
        except (ValueError, binascii.Error) as exc:
            raise invalid(f"invalid base64 encoding: {exc}") from exc
        if not self._runtime.blockhash_valid(message.recent_blockhash):
            return self._context(config, None)
        fee = FEE_PER_SIGNATURE * message.header.num_required_signatures
        return self._context(config, fee + _priority_fee(message))

    def get_recent_prioritization_fees(self, params: Params) -> list[Json]:
        """No fee market on one node: the current slot, at 0."""
        if params.optional(0) is not None:
            params.strings(0, 128)
        return [{"slot": self._runtime.height, "prioritizationFee": 0}]

    def get_slot_leaders(self, params: Params) -> list[str]:
        start, limit = params.integer(0), params.integer(1)
        if limit > _MAX_SLOT_LEADERS:
            raise invalid(f"Invalid limit; max {_MAX_SLOT_LEADERS}")
        del start
        return [self.identity] * limit

    def get_cluster_nodes(self, params: Params) -> list[Json]:
        from earnest.adapters.chain.rpc_methods import FEATURE_SET, SOLANA_CORE_VERSION

        return [
            {
                "pubkey": self.identity,
                "gossip": None,
                "tpu": None,
                "tpuQuic": None,
                "rpc": None,
                "pubsub": None,
                "version": SOLANA_CORE_VERSION,
                "featureSet": FEATURE_SET,
                "shredVersion": 0,
            }
        ]

    def get_inflation_rate(self, params: Params) -> Json:
        epoch, _ = self._runtime.epoch_schedule().get_epoch_and_slot_index(self._runtime.height)
        return {"total": 0.0, "validator": 0.0, "foundation": 0.0, "epoch": epoch}

    def get_inflation_reward(self, params: Params) -> list[None]:
        """No staking rewards here: null for every address."""
        addresses = params.strings(0, 1000)
        params.config(1)
        return [None for _ in addresses]

    def get_highest_snapshot_slot(self, params: Params) -> Json:
        raise RpcError(-32008, "No snapshot")

    def get_leader_schedule(self, params: Params) -> Json | None:
        """This node leads every slot of the epoch (slot indexes within it)."""
        first = params.optional(0)
        config = params.config(0 if isinstance(first, dict) else 1)
        identity = config.get("identity")
        if identity is not None and identity != self.identity:
            return {}
        schedule = self._runtime.epoch_schedule()
        slot = first if type(first) is int else self._runtime.height
        epoch, _ = schedule.get_epoch_and_slot_index(slot)
        return {self.identity: list(range(schedule.get_slots_in_epoch(epoch)))}

    def get_supply(self, params: Params) -> Json:
        """Every lamport in an account; none is held out of circulation here."""
        config = params.config(0)
        total = sum(lamports for _, lamports in self._runtime.lamports())
        value: Json = {"total": total, "circulating": total, "nonCirculating": 0}
        value["nonCirculatingAccounts"] = []
        return self._context(config, value)

    def get_largest_accounts(self, params: Params) -> Json:
        """The 20 accounts holding the most lamports (`filter` circulating: all of them)."""
        config = params.config(0)
        found = sorted(self._runtime.lamports(), key=lambda pair: pair[1], reverse=True)[:20]
        value = [{"address": address, "lamports": lamports} for address, lamports in found]
        return self._context(config, value)


def _no_inflation_governor() -> Json:
    return {"initial": 0.0, "terminal": 0.0, "taper": 0.0, "foundation": 0.0, "foundationTerm": 0.0}


_COMPUTE_BUDGET = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
_DEFAULT_UNITS_PER_INSTRUCTION = 200_000


def _priority_fee(message: Any) -> int:
    """The compute-unit price times the limit, from the message's ComputeBudget instructions."""
    keys = list(message.account_keys)
    price = limit = None
    instructions = list(message.instructions)
    for ix in instructions:
        if ix.program_id_index >= len(keys) or keys[ix.program_id_index] != _COMPUTE_BUDGET:
            continue
        data = bytes(ix.data)
        if data[:1] == b"\x02" and len(data) >= 5:
            limit = int.from_bytes(data[1:5], "little")
        elif data[:1] == b"\x03" and len(data) >= 9:
            price = int.from_bytes(data[1:9], "little")
    if not price:
        return 0
    if limit is None:
        others = sum(1 for ix in instructions if keys[ix.program_id_index] != _COMPUTE_BUDGET)
        limit = min(1_400_000, others * _DEFAULT_UNITS_PER_INSTRUCTION)
    return -(-price * limit // 1_000_000)  # micro-lamports per unit, rounded up
