"""Typed settings, read from EARNEST_* environment variables and an optional TOML file."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from earnest.domain.errors import InvalidInput

# A base58 Solana address: 32 bytes are 32 to 44 characters of the Bitcoin alphabet.
_ADDRESS = re.compile(r"[1-9A-HJ-NP-Za-km-z]{32,44}")


class Settings(BaseSettings):
    """Everything a market needs to start. Defaults run the embedded market."""

    model_config = SettingsConfigDict(
        env_prefix="EARNEST_", extra="forbid", toml_file="earnest.toml"
    )

    data_dir: Path = Field(
        Path("var"), description="where the SQLite file, chain state and keys live"
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default: SQLite in data_dir"
    )
    chain: Literal["local", "rpc"] = Field(
        "local", description="'local': the in-process Solana runtime; 'rpc': a node at chain_url"
    )
    chain_url: SecretStr | None = Field(
        None, description="Solana JSON-RPC URL for chain=rpc (it may hold an API key: not shown)"
    )
    mint: str | None = Field(None, description="the SPL Token mint's address, for chain=rpc")
    commitment: Literal["processed", "confirmed", "finalized"] = Field(
        "confirmed", description="how final a payout must be before it counts as paid (rpc)"
    )
    priority_fee_microlamports: int = Field(
        0, ge=0, le=100_000_000, description="compute-unit price of payouts, micro-lamports (rpc)"
    )
    compute_unit_limit: int | None = Field(
        None, ge=1_000, le=1_400_000, description="compute units per payout; default: estimated"
    )
    rpc_timeout: float = Field(15.0, gt=0, le=300, description="seconds per RPC request")
    rpc_retries: int = Field(5, ge=0, le=20, description="retries of an RPC answered with 429")
    market_keypair: Path | None = Field(None, description="the market's key (Solana CLI JSON)")
    decimals: int = Field(6, ge=0, le=9, description="decimals of the mint the demo creates")
    token_program: Literal["spl-token", "spl-token-2022"] = Field(
        "spl-token", description="the program of the mint a new local chain creates"
    )
    transfer_fee_bps: int = Field(
        0, ge=0, le=10_000, description="a new local Token-2022 mint's transfer fee, basis points"
    )
    transfer_fee_max: int = Field(
        0, ge=0, le=2**64 - 1, description="that fee's cap per transfer, base units"
    )
    fee_bps: int = Field(250, ge=0, le=5000, description="market fee on each reward, basis points")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    public_url: str | None = Field(
        None, description="how users reach this market; sign-in names it"
    )
    chain_id: str = "localnet"
    settle_interval: float = Field(
        0.25, gt=0, le=60, description="seconds between settlement rounds"
    )
    sandbox_interval: float = Field(
        2.0, gt=0, le=3600, description="seconds between sandbox rounds (bug bounty answers)"
    )
    sandbox_python: str = Field(
        "", description="the Python (with pytest) that runs bounty tests; '' = the market's own"
    )
    sandbox_uid: int = Field(
        65534, ge=1, le=2**31, description="the uid bounty tests run as (a root server drops to it)"
    )
    sandbox_repo_dir: str = Field(
        "", description="the one directory bounty repositories may be local paths in; '' = none"
    )
    sandbox_repo_hosts: str = Field(
        "", description="comma-separated https hosts bounty repositories may be on; '' = any public"
    )
    quality_interval: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="seconds between quality rounds (re-estimation, automatic acceptance)",
    )
    housekeeping_interval: float = Field(
        60.0,
        gt=0,
        le=86_400,
        description="seconds between housekeeping rounds (expired sessions, old idempotency keys)",
    )
    webhook_interval: float = Field(
        1.0, gt=0, le=3600, description="seconds between webhook rounds (find events, send)"
    )
    webhook_timeout: float = Field(
        10.0, gt=0, le=60, description="seconds a webhook receiver has to answer"
    )
    webhook_allow_private: bool = Field(
        False,
        description="let webhooks reach loopback and private addresses (tests, a lab); "
        "by default only public addresses, through the node's address guard",
    )
    idempotency_ttl: float = Field(
        86_400.0,
        ge=60,
        description="seconds an Idempotency-Key's answer is kept at least, for retries",
    )
    api_threads: int = Field(
        4,
        ge=1,
        le=256,
        description="threads running routes and their database work, per API process",
    )
    max_body_bytes: int = Field(1 << 20, ge=1024, description="largest JSON request body")
    max_upload_bytes: int = Field(512 << 20, ge=1024, description="largest task upload")
    max_tasks_per_upload: int = Field(100_000, ge=1, description="tasks one upload may add")
    max_tasks_per_campaign: int = Field(
        1_000_000, ge=1, description="tasks one campaign may hold in all"
    )
    rate_per_second: float = Field(
        50.0, ge=0, description="requests a second per credential and per wallet; 0 = no limit"
    )
    rate_burst: int = Field(500, ge=1, description="requests a credential or wallet may burst")
    anonymous_rate_per_second: float = Field(
        10.0, ge=0, description="requests a second per client IP without credentials; 0 = none"
    )
    anonymous_rate_burst: int = Field(300, ge=1, description="their burst (sign-in storms)")
    rate_limit_redis_url: str | None = Field(
        None,
        description="count rate limits in this Redis (redis://host:port/db) instead of the"
        " market's database; every API process of the market must name the same one",
    )
    token_symbol: str = Field(
        "tokens",
        min_length=1,
        max_length=12,
        pattern=r"^[A-Za-z0-9$€£¥.\-]+$",
        description="the mint's symbol, shown after every amount on the pages (e.g. USDC)",
    )
    fiat_currency: str | None = Field(
        None,
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code of a local currency to show an estimate in (e.g. KES)",
    )
    fiat_rate: Decimal | None = Field(
        None,
        gt=0,
        description="units of fiat_currency one token is worth: set by the operator, never"
        " fetched from the internet; the pages say it is an estimate at this rate",
    )
    operators: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="wallet addresses of the market's operators (comma-separated)"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("database_url must be a sqlite:// or postgresql:// URL")
        return value

    @field_validator("operators", mode="before")
    @classmethod
    def _operator_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for address in value:
            if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
                raise ValueError(f"operators must be base58 wallet addresses, got {address!r}")
        return tuple(value)

    @model_validator(mode="after")
    def _chain_settings(self) -> Self:
        if self.chain == "local":
            if self.chain_url is not None or self.mint is not None:
                raise ValueError("chain_url and mint apply to chain=rpc: set EARNEST_CHAIN=rpc")
            return self
        if self.chain_url is None or self.mint is None:
            raise ValueError(
                "chain=rpc needs chain_url (EARNEST_CHAIN_URL) and mint (EARNEST_MINT)"
            )
        url = urlsplit(self.chain_url.get_secret_value())
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("chain_url must be an http:// or https:// URL")
        if not _ADDRESS.fullmatch(self.mint):
            raise ValueError(f"mint must be a base58 Solana address, got {self.mint!r}")
        return self

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Settings from the environment, earnest.toml and `overrides`; InvalidInput if bad."""
        try:
            return cls(**overrides)
        except ValidationError as exc:
            lines = [
                (f"EARNEST_{str(e['loc'][0]).upper()}: " if e["loc"] else "")
                + e["msg"].removeprefix("Value error, ")
                for e in exc.errors()
            ]
            raise InvalidInput("invalid settings: " + "; ".join(lines)) from exc

    @property
    def operator_addresses(self) -> frozenset[str]:
        return frozenset(self.operators)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'earnest.sqlite'}"

    @property
    def resolved_keypair(self) -> Path:
        return self.market_keypair or self.data_dir / "market-keypair.json"

    @property
    def chain_state(self) -> Path:
        return self.data_dir / "chain.sqlite"

    @property
    def resolved_public_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"
