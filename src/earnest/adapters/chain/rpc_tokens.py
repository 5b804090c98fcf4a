"""Token and program-account reads of `earnest chain serve`, for both token programs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from solders.account import Account
from solders.pubkey import Pubkey
from solders.token.state import TokenAccount

from earnest.adapters.chain import history, rpc_encode, rpc_filters
from earnest.adapters.chain.base58 import decode as b58decode
from earnest.adapters.chain.rpc_server import Handler, Params, invalid
from earnest.adapters.chain.runtime import Runtime

Json = dict[str, Any]
Context = Callable[[Json, Any], Json]
_LARGEST = 20  # getTokenLargestAccounts answers the 20 largest, as Solana


def address(text: Any) -> Pubkey:
    """A base58 address, with Solana's wording when it is not one."""
    try:
        raw = b58decode(text) if isinstance(text, str) else b""
    except ValueError as exc:
        raise invalid("Invalid param: Invalid") from exc
    if len(raw) != 32:
        raise invalid("Invalid param: WrongSize")
    return Pubkey.from_bytes(raw)


class TokenMethods:
    """getProgramAccounts and the token reads, over one runtime."""

    def __init__(self, runtime: Runtime, context: Context) -> None:
        self._runtime = runtime
        self._context = context

    def handlers(self) -> dict[str, Handler]:
        return {
            "getProgramAccounts": self.get_program_accounts,
            "getTokenAccountsByOwner": lambda p: self._accounts_by(p, lambda t: t.owner),
            "getTokenAccountsByDelegate": lambda p: self._accounts_by(p, lambda t: t.delegate),
            "getTokenSupply": self.get_token_supply,
            "getTokenLargestAccounts": self.get_token_largest_accounts,
        }

    def get_program_accounts(self, params: Params) -> Any:
        """Every account the program owns that passes the filters; with `withContext`, in
        the context wrapper."""
        program, config = address(params.string(0)), params.config(1)
        rpc_encode.check_encoding(config)
        filters = rpc_filters.parse(config.get("filters"))
        value = [
            {"pubkey": str(key), "account": self._encoded(account, config)}
            for key, account in self._runtime.program_accounts(program)
            if rpc_filters.matches(filters, account)
        ]
        return self._context(config, value) if config.get("withContext") else value

    def _accounts_by(self, params: Params, whose: Callable[[TokenAccount], Any]) -> Json:
        """Token accounts whose owner (or delegate) is the address, for one mint or one
        token program (SPL Token or Token-2022)."""
        wanted_by, wanted, config = address(params.string(0)), params.required(1), params.config(2)
        if not isinstance(wanted, dict) or len(wanted) != 1:
            raise invalid("Invalid params: expected exactly one of `mint` or `programId`.")
        programs: tuple[Pubkey, ...] = history.TOKEN_PROGRAMS
        mint = None
        if "mint" in wanted:
            mint = address(wanted["mint"])
            found = self._runtime.account(mint)
            if history.mint_state(found) is None or found is None:
                raise invalid("Invalid param: could not find mint")
            programs = (found.owner,)
        elif "programId" in wanted:
            program = address(wanted["programId"])
            if program not in history.TOKEN_PROGRAMS:
                raise invalid("Invalid param: unrecognized Token program id")
            programs = (program,)
        else:
            raise invalid("Invalid params: expected exactly one of `mint` or `programId`.")
        rpc_encode.check_encoding(config)
        value = []
        for program in programs:
            for key, account in self._runtime.program_accounts(program):
                token = history.token_account(account)
                if token is None or whose(token) != wanted_by:
                    continue
                if mint is not None and token.mint != mint:
                    continue
                value.append({"pubkey": str(key), "account": self._encoded(account, config)})
        return self._context(config, value)

    def get_token_supply(self, params: Params) -> Json:
        mint_key, config = address(params.string(0)), params.config(1)
        mint = history.mint_state(self._runtime.account(mint_key))
        if mint is None:
            raise invalid("Invalid param: not a Token mint")
        return self._context(config, history.ui_token_amount(mint.supply, mint.decimals))

    def get_token_largest_accounts(self, params: Params) -> Json:
        mint_key, config = address(params.string(0)), params.config(1)
        found = self._runtime.account(mint_key)
        mint = history.mint_state(found)
        if mint is None or found is None:
            raise invalid("Invalid param: not a Token mint")
        holders = []
        for key, account in self._runtime.program_accounts(found.owner):
            token = history.token_account(account)
            if token is not None and token.mint == mint_key:
                holders.append((token.amount, str(key)))
        holders.sort(key=lambda pair: (-pair[0], pair[1]))
        value = [
            {"address": key, **history.ui_token_amount(amount, mint.decimals)}
            for amount, key in holders[:_LARGEST]
        ]
        return self._context(config, value)

    def _encoded(self, account: Account, config: Json) -> Json:
        return rpc_encode.account(account, config, self._runtime.decimals_of)
