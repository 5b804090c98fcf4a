"""Bandwidth use cases: a node returns a fetch; the requester downloads the agreed body.

A node's answer is composed here, not sent by the node: its signed metering record, plus
what the market observed itself (the body's size and hashes, whether the signature
verifies). The verifier (quality/bandwidth.py) judges only that, so anyone holding the
stored answers and bodies can re-run it. Bodies are kept in the database, once per content
hash (`fetch_bodies`), so they reach every API process and the requester downloads each
result's body once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from earnest.domain.bandwidth import (
    BandwidthTerms,
    MeteringRecord,
    normalized_sha256,
    sha256_hex,
)
from earnest.domain.errors import Conflict, InvalidInput, NotFound
from earnest.domain.work import TaskStatus
from earnest.services.answers import SubmitResult, live_lease, record_answer
from earnest.services.chain_port import Crypto
from earnest.services.common import owned_campaign
from earnest.services.identity import Principal
from earnest.services.ports import Clock, Random, Store


@dataclass(frozen=True)
class FetchReturn:
    """What a node sends back for one job: the body, and its record signed by the node."""

    record: Any  # the metering record's JSON, checked here
    signature: str
    body: bytes


@dataclass(frozen=True)
class FetchedBody:
    """The agreed body of a resolved fetch job, with what the nodes agreed on."""

    body: bytes
    result: dict[str, Any]


@dataclass(frozen=True)
class SubmitFetch:
    """A bandwidth node returns its fetch job `assignment_id`."""

    who: Principal
    assignment_id: str
    returned: FetchReturn


def submit_fetch(
    cmd: SubmitFetch, *, store: Store, crypto: Crypto, clock: Clock, rand: Random
) -> SubmitResult:
    """Keep a node's body, record its signed metering record, and verify the task."""
    who, assignment_id, returned = cmd.who, cmd.assignment_id, cmd.returned
    who.require("work")
    now = clock.now()
    record = MeteringRecord.of(returned.record)
    with store.uow() as uow:
        lease = live_lease(uow, who, assignment_id, now)
        if not lease.campaign.spec.is_bandwidth:
            raise InvalidInput("this is not a fetch job; submit an answer instead")
        limit = BandwidthTerms.of(lease.campaign.spec.terms).max_bytes
        if len(returned.body) > limit:
            raise InvalidInput(f"the body is {len(returned.body)} bytes; this job cuts at {limit}")
        answer = _answer(record, returned, who.address, crypto)
        uow.bodies.put(answer["market"]["sha256"], returned.body, now)
        result = record_answer(uow, lease, answer, crypto, now, rand)
        uow.commit()
    return result


def _answer(
    record: MeteringRecord, returned: FetchReturn, node: str, crypto: Crypto
) -> dict[str, Any]:
    """The stored answer: the node's statement, and the market's own observations of it.

    The signature is checked against the key of the node that sent the job back, whatever
    address the record names: a record copied from another node does not verify."""
    return {
        "record": record.as_dict(),
        "signature": returned.signature,
        "market": {
            "bytes": len(returned.body),
            "sha256": sha256_hex(returned.body),
            "normalized_sha256": normalized_sha256(returned.body),
            "signature_valid": crypto.verify(node, record.canonical(), returned.signature),
        },
    }


def fetched_body(who: Principal, campaign_id: str, task_id: int, *, store: Store) -> FetchedBody:
    """The body the nodes agreed on for one resolved task of the requester's campaign."""
    who.require("results:read")
    with store.uow(readonly=True) as uow:
        owned_campaign(uow, campaign_id, who.address)
        task = uow.tasks.get(task_id)
        if task is None or task.campaign_id != campaign_id:
            raise NotFound(f"no task {task_id} in campaign {campaign_id!r}")
        result = task.result if isinstance(task.result, dict) else {}
        if task.status is not TaskStatus.RESOLVED:
            raise Conflict("the nodes' fetches of this URL are not all in yet")
        if result.get("agreed") is not True:
            raise Conflict("the nodes did not agree on this URL's content; there is no body")
        body = uow.bodies.get(str(result["sha256"]))
    if body is None:
        raise NotFound("the agreed body is missing from the store")
    return FetchedBody(body, result)
