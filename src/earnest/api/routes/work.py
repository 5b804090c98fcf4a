"""Work: claim a task, submit an answer, see your assignments."""

from __future__ import annotations

from fastapi import APIRouter

from earnest.api.deps import Caller, MarketDep
from earnest.api.problems import status_for
from earnest.api.recorded import recorded
from earnest.api.schemas import (
    AnswerResult,
    AnswersIn,
    AnswersOut,
    AssignmentOut,
    ClaimIn,
    ClaimOut,
    LeaseOut,
    SubmitIn,
    SubmitOut,
    SuiteIn,
    SuiteOut,
)
from earnest.services.answers import SubmitAnswer, SubmitAnswers, SubmitResult
from earnest.services.work import ClaimSuite, ClaimTask, ReleaseLease

router = APIRouter(tags=["work"])


@router.post("/claims", response_model=ClaimOut, status_code=201)
@recorded(201)
def claim(body: ClaimIn, who: Caller, m: MarketDep) -> ClaimOut:
    """Lease a task (from one campaign, or any); submit before `expires_at`."""
    c = m.work.claim(ClaimTask(who, body.campaign_id))
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
@recorded(200)
def submit(assignment_id: str, body: SubmitIn, who: Caller, m: MarketDep) -> SubmitOut:
    """Answer a leased task; the verdict (accept, reject with reason, or wait) comes back."""
    return SubmitOut.of(m.work.answer(SubmitAnswer(who, assignment_id, body.answer)))


@router.post("/suites", response_model=SuiteOut, status_code=201)
@recorded(201)
def suite(body: SuiteIn, who: Caller, m: MarketDep) -> SuiteOut:
    """Lease up to `count` tasks of one campaign at once (a task suite), as `count` claims
    would, in one request; answer them with POST /v1/answers."""
    claims = m.work.claim_suite(ClaimSuite(who, body.campaign_id, body.count))
    spec = claims[0].campaign.spec
    return SuiteOut(
        campaign_id=claims[0].campaign.id,
        title=spec.title,
        instructions=spec.instructions,
        output_schema=spec.output_schema,
        reward=spec.reward,
        terms=spec.terms,
        leases=[
            LeaseOut(assignment=AssignmentOut.of(c.assignment), task=c.task_data) for c in claims
        ],
    )


@router.post("/answers", response_model=AnswersOut)
@recorded(200)
def answers(body: AnswersIn, who: Caller, m: MarketDep) -> AnswersOut:
    """Answer several leases in one request. Each answer gets its own result: the verdict,
    or the problem that refused it (that answer alone is not kept)."""
    done = m.work.answers(SubmitAnswers(who, [(a.assignment_id, a.answer) for a in body.answers]))
    results = []
    for given, r in zip(body.answers, done, strict=True):
        if isinstance(r, SubmitResult):
            out = SubmitOut.of(r)
            results.append(
                AnswerResult(
                    assignment_id=given.assignment_id,
                    decision=out.decision,
                    reason=out.reason,
                    receipt_id=out.receipt_id,
                    assignment=out.assignment,
                )
            )
        else:
            problem = {
                "status": status_for(r),
                "code": r.code,
                "title": r.title,
                "detail": r.detail,
            }
            results.append(AnswerResult(assignment_id=given.assignment_id, problem=problem))
    return AnswersOut(results=results)


@router.post("/assignments/{assignment_id}/release", response_model=AssignmentOut)
def release(assignment_id: str, who: Caller, m: MarketDep) -> AssignmentOut:
    """Give a lease back unanswered; the task is offered to someone else at once."""
    return AssignmentOut.of(m.work.release(ReleaseLease(who, assignment_id)))


@router.get("/assignments", response_model=list[AssignmentOut])
def mine(who: Caller, m: MarketDep) -> list[AssignmentOut]:
    return [AssignmentOut.of(a) for a in m.work.assignments(who)]


@router.get("/assignments/{assignment_id}", response_model=AssignmentOut)
def one(assignment_id: str, who: Caller, m: MarketDep) -> AssignmentOut:
    return AssignmentOut.of(m.work.assignment(who, assignment_id))
