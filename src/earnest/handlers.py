"""The use cases bound to the market's ports: what routes, pages and the CLI call.

`build_market` binds them once (`Market.money`, `.identity`, `.devices`, `.campaigns`,
`.work`, `.reviews`), so a
caller hands over a command and gets the result, and never passes a store, a chain or a
clock. Each handler reads the market's ports when it is called, not when it is bound:
tests put a controlled clock or randomness on a built market.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol

from earnest.config import Settings
from earnest.domain import siws
from earnest.domain.criteria import WorkerProfile
from earnest.domain.errors import EarnestError
from earnest.domain.work import Assignment, Campaign
from earnest.services import (
    answers,
    appeals,
    bandwidth,
    bonuses,
    campaign_settings,
    campaigns,
    cashout,
    devices,
    formats,
    funds,
    identity,
    payout_cost,
    peer_review,
    profiles,
    receipts,
    uploads,
    wallet_deposit,
    webhooks,
    work,
)
from earnest.services.answers import SubmitAnswer, SubmitAnswers, SubmitResult
from earnest.services.appeals import DecideAppeal, FileAppeal, ReviewSubmission, VoteAppeal
from earnest.services.bandwidth import SubmitFetch
from earnest.services.bonuses import ListWorker, PayBonus
from earnest.services.campaign_settings import CloneCampaign, SetCampaignStatus, UpdateCampaign
from earnest.services.campaigns import CloseCampaign, CreateCampaign, FundCampaign
from earnest.services.chain_port import Chain, Crypto
from earnest.services.devices import RegisterDevice
from earnest.services.funds import Balances, PaidPayout, RecordDeposit, Withdraw
from earnest.services.identity import (
    Challenge,
    CreateApiKey,
    Principal,
    RevokeApiKey,
    SessionCache,
    SignIn,
    SignOut,
    SiteIdentity,
)
from earnest.services.payout_cost import EstimatePayoutCost, PayoutCost
from earnest.services.peer_review import ClaimReview, ReviewItem, SubmitReview
from earnest.services.ports import (
    ApiKeyRecord,
    AppealRecord,
    BonusRecord,
    Clock,
    DeliveryRecord,
    DeviceRecord,
    EndpointRecord,
    PayoutRecord,
    PeerReview,
    Random,
    Sandbox,
    Store,
)
from earnest.services.profiles import SetProfile
from earnest.services.uploads import UploadLimits, UploadReport, UploadTasks
from earnest.services.wallet_deposit import DepositQuote, WalletDeposit
from earnest.services.webhooks import CreateWebhook
from earnest.services.work import Claim, ClaimSuite, ClaimTask, ReleaseLease


class Ports(Protocol):
    """What the handlers take from the market (bootstrap.Market has them all)."""

    @property
    def store(self) -> Store: ...
    @property
    def chain(self) -> Chain: ...
    @property
    def crypto(self) -> Crypto: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def rand(self) -> Random: ...
    @property
    def site(self) -> SiteIdentity: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def runner(self) -> Sandbox | None:
        """The sandbox bug bounties' tests run in."""
        ...


class Money:
    """Deposits, withdrawals, balances, payouts, receipts."""

    def __init__(self, ports: Ports) -> None:
        self._p = ports

    def record_deposit(self, cmd: RecordDeposit) -> int:
        p = self._p
        return funds.record_deposit(cmd, store=p.store, chain=p.chain, clock=p.clock)

    def deposit_quote(self, who: Principal, amount: int) -> DepositQuote:
        return wallet_deposit.quote(who, amount, chain=self._p.chain)

    def wallet_deposit(self, cmd: WalletDeposit) -> int:
        p = self._p
        return wallet_deposit.deposit(
            cmd, store=p.store, chain=p.chain, crypto=p.crypto, clock=p.clock
        )

    def withdraw(self, cmd: Withdraw) -> PayoutRecord:
        p = self._p
        fee = p.chain.transfer_fee()
        return funds.withdraw(cmd, store=p.store, clock=p.clock, rand=p.rand, transfer_fee=fee)

    def balances(self, who: Principal) -> Balances:
        return funds.balances(who, store=self._p.store)

    def wallet_balance(self, who: Principal) -> int:
        """What the worker's own wallet holds of the market's mint (cash-out's source)."""
        return cashout.wallet_balance(who, chain=self._p.chain)

    def cashout_quote(self, cmd: cashout.CashOut) -> cashout.Quote:
        return cashout.quote(cmd, chain=self._p.chain, crypto=self._p.crypto)

    def cashout_send(self, cmd: cashout.SendCashOut) -> str:
        return cashout.send(cmd, chain=self._p.chain, crypto=self._p.crypto)

    def payouts(self, who: Principal) -> list[PaidPayout]:
        return funds.my_payouts(who, store=self._p.store)

    def settlement_stats(self) -> dict[str, int]:
        return funds.settlement_stats(store=self._p.store)

    def receipt(self, who: Principal, receipt_id: str) -> dict[str, Any]:
        return receipts.get_receipt(who, receipt_id, store=self._p.store, crypto=self._p.crypto)


class Identity:
    """Sign-in, sessions and API keys. `sessions` is the calling process's cache (one per
    app: docs/security.md), so it comes with the call rather than with the market."""

    def __init__(self, ports: Ports) -> None:
        self._p = ports

    def challenge(self, cmd: Challenge) -> siws.SignInMessage:
        p = self._p
        return identity.create_challenge(
            cmd, site=p.site, store=p.store, crypto=p.crypto, clock=p.clock, rand=p.rand
        )

    def sign_in(
        self, cmd: SignIn, *, sessions: SessionCache | None = None
    ) -> tuple[str, Principal, datetime]:
        p = self._p
        return identity.sign_in(
            cmd,
            site=p.site,
            store=p.store,
            crypto=p.crypto,
            clock=p.clock,
            rand=p.rand,
            sessions=sessions,
        )

    def authenticate(self, credential: str, *, sessions: SessionCache | None = None) -> Principal:
        p = self._p
        return identity.authenticate(credential, store=p.store, clock=p.clock, sessions=sessions)

    def sign_out(self, cmd: SignOut, *, sessions: SessionCache | None = None) -> bool:
        p = self._p
        return identity.sign_out(cmd, store=p.store, clock=p.clock, sessions=sessions)

    def create_api_key(self, cmd: CreateApiKey) -> tuple[str, ApiKeyRecord]:
        p = self._p
        return identity.create_api_key(cmd, store=p.store, clock=p.clock, rand=p.rand)

    def api_keys(self, who: Principal) -> list[ApiKeyRecord]:
        return identity.list_api_keys(who, store=self._p.store)

    def revoke_api_key(self, cmd: RevokeApiKey, *, sessions: SessionCache | None = None) -> None:
        p = self._p
        identity.revoke_api_key(cmd, store=p.store, clock=p.clock, sessions=sessions)

    def set_profile(self, cmd: SetProfile) -> WorkerProfile:
        return profiles.set_profile(cmd, store=self._p.store, clock=self._p.clock)

    def profile(self, who: Principal) -> WorkerProfile:
        return profiles.profile_of(who, store=self._p.store)


class Devices:
    """Devices with keys of their own (meters)."""

    def __init__(self, ports: Ports) -> None:
        self._p = ports

    def register(self, cmd: RegisterDevice) -> DeviceRecord:
        p = self._p
        return devices.register_device(cmd, store=p.store, crypto=p.crypto, clock=p.clock)

    def of(self, who: Principal) -> list[DeviceRecord]:
        return devices.my_devices(who, store=self._p.store)


class Campaigns:
    """A requester's campaigns: create, fund, close; edit, pause, resume, clone."""

    def __init__(self, ports: Ports) -> None:
        self._p = ports

    def create(self, cmd: CreateCampaign) -> Campaign:
        p = self._p
        return campaigns.create_campaign(
            cmd,
            fee_bps=p.settings.fee_bps,
            store=p.store,
            clock=p.clock,
            rand=p.rand,
            sandbox=p.runner,
            mint=p.chain.mint_terms(),
        )

    def payout_cost(self, cmd: EstimatePayoutCost) -> PayoutCost:
        """What paying the campaign's units costs, in tokens and SOL, before funding it."""
        return payout_cost.estimate_payout_cost(cmd, store=self._p.store, chain=self._p.chain)

    def fund(self, cmd: FundCampaign) -> int:
        p = self._p
        return campaigns.fund_campaign(cmd, store=p.store, clock=p.clock, rand=p.rand)

    def close(self, cmd: CloseCampaign) -> int:
        p = self._p
        return campaigns.close_campaign(cmd, store=p.store, clock=p.clock, rand=p.rand)

    def update(self, cmd: UpdateCampaign) -> Campaign:
        p = self._p
        return campaign_settings.update_campaign(
            cmd, store=p.store, clock=p.clock, sandbox=p.runner
        )

    def set_status(self, cmd: SetCampaignStatus) -> Campaign:
        return campaign_settings.set_campaign_status(cmd, store=self._p.store, clock=self._p.clock)

    def bonus(self, cmd: PayBonus) -> BonusRecord:
        p = self._p
        return bonuses.pay_bonus(
            cmd, fee_bps=p.settings.fee_bps, store=p.store, clock=p.clock, rand=p.rand
        )

    def bonuses(self, who: Principal, campaign_id: str) -> list[BonusRecord]:
        return bonuses.campaign_bonuses(who, campaign_id, store=self._p.store)

    def list_worker(self, cmd: ListWorker) -> str | None:
        return bonuses.list_worker(cmd, store=self._p.store, clock=self._p.clock)

    def listings(self, who: Principal) -> dict[str, str]:
        return bonuses.listings(who, store=self._p.store)

    def clone(self, cmd: CloneCampaign) -> Campaign:
        p = self._p
        return self.create(campaign_settings.clone_command(cmd, store=p.store, clock=p.clock))


class Tasks:
    """A campaign's tasks in and results out: uploads (under the settings' limits) and exports."""

    def __init__(self, ports: Ports) -> None:
        self._p = ports

    def upload(self, cmd: UploadTasks) -> UploadReport:
        """Read a task file (JSON Lines, a JSON array or CSV) as it streams, and add its tasks."""
        # Imported here: earnest.web's package imports the bootstrap, which imports this.
        from earnest.web.widgets import widget_for

        p = self._p
        spec = campaigns.owned(cmd.who, cmd.campaign_id, store=p.store).spec
        lines = formats.task_lines(cmd.stream, cmd.kind, spec.input_schema, widget_for(spec).field)
        limits = UploadLimits(p.settings.max_tasks_per_upload, p.settings.max_tasks_per_campaign)
        return uploads.add_tasks(
            cmd.who, cmd.campaign_id, lines, store=p.store, limits=limits, sandbox=p.runner
        )

    def export(self, who: Principal, campaign_id: str, fmt: str) -> Iterator[str]:
        """Resolved tasks as text chunks of `fmt` (formats.EXPORTS: JSON Lines, or a flat CSV
        of one column per data and answer field); ownership is checked before the first
        chunk, so a refusal comes before a response starts streaming."""
        rows = formats.started(campaigns.results(who, campaign_id, store=self._p.store))
        if fmt != "csv":
            return formats.results_jsonl(rows)
        spec = campaigns.owned(who, campaign_id, store=self._p.store).spec
        return formats.results_csv(
            rows, formats.FlatColumns.of(spec.input_schema, spec.output_schema)
        )


class Webhooks:
    """A requester's webhook endpoints and their delivery log."""

    def __init__(self, ports: Ports) -> None:
        self._p = ports

    def create(self, cmd: CreateWebhook) -> EndpointRecord:
        p = self._p
        return webhooks.create_webhook(cmd, store=p.store, clock=p.clock, rand=p.rand)

    def of(self, who: Principal) -> list[EndpointRecord]:
        return webhooks.my_webhooks(who, store=self._p.store)

    def delete(self, who: Principal, endpoint_id: str) -> None:
        webhooks.delete_webhook(who, endpoint_id, store=self._p.store, clock=self._p.clock)

    def deliveries(self, who: Principal, endpoint_id: str) -> list[DeliveryRecord]:
        return webhooks.deliveries(who, endpoint_id, store=self._p.store)

    def resend(self, who: Principal, delivery_id: str) -> DeliveryRecord:
        return webhooks.resend(who, delivery_id, store=self._p.store, clock=self._p.clock)


class Work:
    """A worker's leases and answers: the hot path (claim, answer)."""

    def __init__(self, ports: Ports) -> None:
        self._p = ports

    def claim(self, cmd: ClaimTask) -> Claim:
        return work.claim_task(cmd, store=self._p.store, clock=self._p.clock, rand=self._p.rand)

    def claim_suite(self, cmd: ClaimSuite) -> list[Claim]:
        return work.claim_suite(cmd, store=self._p.store, clock=self._p.clock, rand=self._p.rand)

    def answer(self, cmd: SubmitAnswer) -> SubmitResult:
        p = self._p
        return answers.submit_work(cmd, store=p.store, crypto=p.crypto, clock=p.clock, rand=p.rand)

    def answers(self, cmd: SubmitAnswers) -> list[SubmitResult | EarnestError]:
        p = self._p
        return answers.submit_answers(
            cmd, store=p.store, crypto=p.crypto, clock=p.clock, rand=p.rand
        )

    def fetch(self, cmd: SubmitFetch) -> SubmitResult:
        """A bandwidth node's fetch job returned: its body and signed metering record."""
        p = self._p
        return bandwidth.submit_fetch(
            cmd, store=p.store, crypto=p.crypto, clock=p.clock, rand=p.rand
        )

    def release(self, cmd: ReleaseLease) -> Assignment:
        return work.release_lease(cmd, store=self._p.store, clock=self._p.clock)

    def assignments(self, who: Principal) -> list[Assignment]:
        return work.my_assignments(who, store=self._p.store)

    def assignment(self, who: Principal, assignment_id: str) -> Assignment:
        return work.get_assignment(who, assignment_id, store=self._p.store)


class Reviews:
    """Requester review, appeals and peer review: the decisions on answers after the verifier."""

    def __init__(self, ports: Ports) -> None:
        self._p = ports

    def review(self, cmd: ReviewSubmission) -> Assignment:
        p = self._p
        return appeals.review_submission(
            cmd, store=p.store, crypto=p.crypto, clock=p.clock, rand=p.rand
        )

    def appeal(self, cmd: FileAppeal) -> AppealRecord:
        return appeals.file_appeal(cmd, store=self._p.store, clock=self._p.clock, rand=self._p.rand)

    def decide(self, cmd: DecideAppeal) -> AppealRecord:
        p = self._p
        return appeals.decide_appeal(
            cmd, store=p.store, crypto=p.crypto, clock=p.clock, rand=p.rand
        )

    def vote(self, cmd: VoteAppeal) -> AppealRecord:
        p = self._p
        return appeals.vote_appeal(cmd, store=p.store, crypto=p.crypto, clock=p.clock, rand=p.rand)

    def claim(self, cmd: ClaimReview) -> ReviewItem:
        p = self._p
        return peer_review.claim_review(cmd, store=p.store, clock=p.clock, rand=p.rand)

    def submit(self, cmd: SubmitReview) -> PeerReview:
        p = self._p
        return peer_review.submit_review(
            cmd, store=p.store, crypto=p.crypto, clock=p.clock, rand=p.rand
        )
