"""Typed settings, read from EARNEST_* environment variables and an optional TOML file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


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
    chain: Literal["local"] = Field("local", description="'local': the in-process Solana runtime")
    market_keypair: Path | None = Field(None, description="the market's key (Solana CLI JSON)")
    decimals: int = Field(6, ge=0, le=9, description="decimals of the mint the demo creates")
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
    quality_interval: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="seconds between quality rounds (re-estimation, automatic acceptance)",
    )
    max_body_bytes: int = Field(1 << 20, ge=1024, description="largest JSON request body")
    max_upload_bytes: int = Field(512 << 20, ge=1024, description="largest task upload")
    operators: str = Field(
        "", description="comma-separated wallet addresses allowed on the operator pages"
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

    @property
    def operator_addresses(self) -> frozenset[str]:
        return frozenset(a.strip() for a in self.operators.split(",") if a.strip())

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
