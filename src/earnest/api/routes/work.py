"""Work: claim a task, submit an answer, see your assignments."""

from __future__ import annotations

from fastapi import APIRouter

from earnest.api.deps import Caller, MarketDep
from earnest.api.schemas import AssignmentOut, ClaimIn, ClaimOut, SubmitIn, SubmitOut
from earnest.services import work

router = APIRouter(tags=["work"])


@router.post("/claims", response_model=ClaimOut, status_code=201)
def claim(body: ClaimIn, who: Caller, m: MarketDep) -> ClaimOut:
    """Lease a task (from one campaign, or any); submit before `expires_at`."""
    c = work.claim_task(who, body.campaign_id, store=m.store, clock=m.clock, rand=m.rand)
    return ClaimOut(
        assignment=AssignmentOut.of(c.assignment),
        task=c.task_data,
        title=c.campaign.spec.title,
        instructions=c.campaign.spec.instructions,
        output_schema=c.campaign.spec.output_schema,
        reward=c.campaign.spec.reward,
        terms=c.campaign.spec.terms,
    )


@router.post("/assignments/{assignment_id}/submit", response_model=SubmitOut)
def submit(assignment_id: str, body: SubmitIn, who: Caller, m: MarketDep) -> SubmitOut:
    """Answer a leased task; the verdict (accept, reject with reason, or wait) comes back."""
    r = work.submit_work(
        who, assignment_id, body.answer, store=m.store, crypto=m.crypto, clock=m.clock, rand=m.rand
    )
    return SubmitOut.of(r)


@router.post("/assignments/{assignment_id}/release", response_model=AssignmentOut)
def release(assignment_id: str, who: Caller, m: MarketDep) -> AssignmentOut:
    """Give a lease back unanswered; the task is offered to someone else at once."""
    return AssignmentOut.of(work.release_lease(who, assignment_id, store=m.store, clock=m.clock))


@router.get("/assignments", response_model=list[AssignmentOut])
def mine(who: Caller, m: MarketDep) -> list[AssignmentOut]:
    return [AssignmentOut.of(a) for a in work.my_assignments(who, store=m.store)]


@router.get("/assignments/{assignment_id}", response_model=AssignmentOut)
def one(assignment_id: str, who: Caller, m: MarketDep) -> AssignmentOut:
    return AssignmentOut.of(work.get_assignment(who, assignment_id, store=m.store))
