"""Money actions ask first: a page that says what will move, in tokens, and sends the same
form again with `confirmed=yes`; and the yes-or-no form of reviews and appeals, whose yes
pays the worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import Response

from earnest.bootstrap import Market
from earnest.domain.money import format_units
from earnest.services.identity import Principal
from earnest.web.render import page


def confirm(
    request: Request,
    who: Principal,
    action: str,
    campaign_id: str,
    *,
    heading: str,
    message: str,
    fields: dict[str, str],
    button: str,
    danger: bool = False,
) -> Response:
    """The confirmation of a money action: its message and a button that sends it again;
    Cancel goes back to the campaign, and nothing moved."""
    return page(
        request,
        "requester/confirm.html",
        who,
        200,
        action=action,
        heading=heading,
        message=message,
        fields=fields,
        button=button,
        danger=danger,
        back=f"/dashboard/campaigns/{campaign_id}",
    )


@dataclass(frozen=True)
class Decision:
    """A yes or no on an answer or an appeal, with the reason, from the campaign page."""

    campaign_id: str
    yes: bool
    reason: str
    confirmed: bool = False

    def confirming(
        self, request: Request, who: Principal, m: Market, action: str, what: str
    ) -> Response | None:
        """A yes pays the worker: ask first (None once confirmed, or for a no)."""
        if not self.yes or self.confirmed:
            return None
        found = m.views.campaign_status(who, self.campaign_id)["campaign"]
        reward = format_units(found.spec.reward, m.chain.decimals)
        return confirm(
            request,
            who,
            action,
            self.campaign_id,
            heading=f"{what}?",
            message=f"The worker is paid {reward} tokens from the escrow of “{found.spec.title}”.",
            fields={"campaign_id": self.campaign_id, "choice": "yes", "reason": self.reason},
            button=f"{what}: pay {reward} tokens",
        )


def decision_form(
    campaign_id: Annotated[str, Form()] = "",
    choice: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    confirmed: Annotated[str, Form()] = "",
) -> Decision:
    """The decision a review or appeal form sends (its button says yes or no)."""
    return Decision(campaign_id, choice == "yes", reason, confirmed == "yes")


DecisionForm = Annotated[Decision, Depends(decision_form)]
