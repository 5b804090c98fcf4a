"""Receipt use cases: a worker proves their verdict is anchored in a payout's memo."""

from __future__ import annotations

from typing import Any, Protocol

from earnest.domain.errors import NotFound
from earnest.domain.receipts import memo_for, merkle_proof
from earnest.services.chain_port import Crypto
from earnest.services.identity import Principal
from earnest.services.ports import MoneyUnit, StoreOf, WorkUnit


class ReceiptsUnit(MoneyUnit, WorkUnit, Protocol):
    """A receipt's proof reads the receipt, its campaign and the batch that paid it."""


def get_receipt(
    who: Principal, receipt_id: str, *, store: StoreOf[ReceiptsUnit], crypto: Crypto
) -> dict[str, Any]:
    """The receipt, the market's signature, and (once paid) its Merkle proof and payout."""
    with store.uow(readonly=True) as uow:
        record = uow.receipts.get(receipt_id)
        if record is None:
            raise NotFound(f"no receipt {receipt_id!r}")
        campaign = uow.campaigns.get(record.campaign_id)
        if who.address not in (record.worker, campaign.requester if campaign else None):
            raise NotFound(f"no receipt {receipt_id!r}")
        payout = uow.payouts.by_receipt(receipt_id)
        batch = uow.payouts.batch(payout.batch_id) if payout and payout.batch_id else None
    out: dict[str, Any] = {
        "id": record.id,
        "receipt": record.body,
        "digest": record.digest,
        "signature": record.signature,
        "signer": crypto.market_address,
        "payout": None,
    }
    if payout is not None:
        out["payout"] = {"id": payout.id, "amount": payout.amount, "status": payout.status}
    if batch is not None and batch.status == "confirmed":
        index = batch.receipt_digests.index(record.digest)
        out["payout"] |= {
            "transaction": batch.signature,
            "merkle_root": batch.merkle_root,
            "memo": memo_for(batch.merkle_root).decode(),
            "proof": merkle_proof(batch.receipt_digests, index),
            "leaf_index": index,
        }
    return out
