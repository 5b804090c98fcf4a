"""`earnest campaign create|edit|pause|resume|clone|status|estimate`: a campaign's settings from a shell.

Amounts are typed in tokens, as on the web (`reward` and `quality.review_reward`, in a
spec file or a `--set`): the market's mint decimals turn them into base units, the API's
unit. JSON numbers are read as decimals, never floats, so 0.1 tokens stays exact.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from earnest.domain.errors import InvalidInput
from earnest.domain.money import format_units, parse_units

Url = Annotated[str, typer.Option(envvar="EARNEST_URL", help="the market's base URL")]
ApiKey = Annotated[str, typer.Option(envvar="EARNEST_API_KEY", help="a requester API key (ek_...)")]
AMOUNTS = ("reward", "quality.review_reward")  # the settings a person types in tokens
SHOWN = ("escrow", "reserved", "spent")  # what `campaign status` also shows in tokens


def _client(url: str, api_key: str) -> Any:
    from earnest.client import Earnest

    return Earnest(url, token=api_key)


def in_base_units(settings: dict[str, Any], decimals: int) -> dict[str, Any]:
    """The settings with their amounts turned from tokens into base units, and every other
    decimal number into the float the API reads."""
    out: dict[str, Any] = _plain(settings)
    for dotted in AMOUNTS:
        *outer, name = dotted.split(".")
        holder: Any = out[outer[0]] if outer and isinstance(out.get(outer[0]), dict) else out
        if outer and holder is out:
            continue
        if name in holder:
            holder[name] = parse_units(str(_number(settings, dotted)), decimals, dotted)
    return out


def _number(settings: dict[str, Any], dotted: str) -> Any:
    value: Any = settings
    for part in dotted.split("."):
        value = value[part]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):  # only JSON's fractional numbers are read as Decimal
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _read_json(text: str, what: str) -> Any:
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{what} is not JSON: {exc}") from exc


def _changes(pairs: list[str]) -> dict[str, Any]:
    """`name=value` pairs (`quality.name=value` for a quality setting); a value that reads
    as JSON is that JSON (5, true, ["en"]), anything else is text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"--set takes name=value, not {pair!r}")
        try:
            value = json.loads(raw, parse_float=Decimal)
        except json.JSONDecodeError:
            value = raw
        holder = out
        *outer, last = name.strip().split(".")
        for part in outer:
            holder = holder.setdefault(part, {})
        holder[last] = value
    return out


def campaign_create(
    spec: Annotated[Path, typer.Argument(help="JSON file with the campaign's fields")],
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """Create a campaign from a JSON spec (title, input_schema, output_schema, reward, ...);
    `reward` and `quality.review_reward` are in tokens, as on the web."""
    fields = _read_json(spec.read_text(), str(spec))
    with _client(url, api_key) as api:
        body = in_base_units(fields, api.market()["decimals"])
        print(json.dumps(api.create_campaign(**body), indent=2))


def campaign_edit(
    campaign_id: str,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="name=value, quality.name=value; amounts in tokens"),
    ] = None,
    file: Annotated[Path | None, typer.Option(help="a JSON file of the settings to change")] = None,
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """Change settings the campaign still allows; a fixed one is refused with the reason."""
    changes = _read_json(file.read_text(), str(file)) if file else {}
    for name, value in _changes(set_ or []).items():
        if isinstance(value, dict) and isinstance(changes.get(name), dict):
            changes[name] |= value
        else:
            changes[name] = value
    if not changes:
        raise InvalidInput("name at least one setting to change: --set name=value or --file")
    with _client(url, api_key) as api:
        body = in_base_units(changes, api.market()["decimals"])
        print(json.dumps(api.update_campaign(campaign_id, **body), indent=2))


def campaign_pause(
    campaign_id: str, url: Url = "http://127.0.0.1:8000", api_key: ApiKey = ""
) -> None:
    """Stop new claims; live leases may still be answered, the escrow stays."""
    with _client(url, api_key) as api:
        print(json.dumps({"status": api.pause(campaign_id)["status"]}))


def campaign_resume(
    campaign_id: str, url: Url = "http://127.0.0.1:8000", api_key: ApiKey = ""
) -> None:
    """Offer a paused campaign's tasks again."""
    with _client(url, api_key) as api:
        print(json.dumps({"status": api.resume(campaign_id)["status"]}))


def campaign_clone(
    campaign_id: str,
    title: Annotated[str | None, typer.Option(help="default: the original's + (copy)")] = None,
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """A new draft with the campaign's settings (no tasks, no money); prints it."""
    with _client(url, api_key) as api:
        print(json.dumps(api.clone(campaign_id, title), indent=2))


def campaign_status(
    campaign_id: str, url: Url = "http://127.0.0.1:8000", api_key: ApiKey = ""
) -> None:
    """Progress and money of a campaign; `tokens` repeats the money in tokens."""
    with _client(url, api_key) as api:
        decimals = api.market()["decimals"]
        found = api.campaign(campaign_id)
    shown = {k: format_units(found[k], decimals) for k in SHOWN}
    c = found["campaign"]
    shown |= {k: format_units(c[k], decimals) for k in ("reward", "unit_cost")}
    print(json.dumps(found | {"tokens": shown}, indent=2))


def campaign_estimate(
    campaign_id: str,
    payees: Annotated[
        int | None, typer.Option(min=0, help="distinct workers expected (default: one per unit)")
    ] = None,
    destination: Annotated[
        list[str] | None,
        typer.Option(
            help="a payee wallet known now (repeat); one with a token account pays no rent"
        ),
    ] = None,
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """Before funding: the tokens every unit takes, and the SOL its payouts cost (network
    fees from batching, rent of new payees' token accounts)."""
    with _client(url, api_key) as api:
        cost = api.payout_cost(campaign_id, payees=payees, destinations=destination or ())
        print(json.dumps(cost, indent=2))


def campaign_bonus(
    campaign_id: str,
    worker: Annotated[str, typer.Argument(help="the worker's address")],
    amount: Annotated[str, typer.Argument(help="tokens, as on the web: 1 or 0.25")],
    reason: Annotated[str, typer.Option(help="why, shown with the payment")] = "a bonus",
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """Pay a worker who answered in the campaign AMOUNT tokens (plus the market fee)."""
    with _client(url, api_key) as api:
        units = parse_units(amount, api.market()["decimals"], positive=True)
        print(json.dumps(api.pay_bonus(campaign_id, worker, units, reason), indent=2))


def campaign_block(
    worker: Annotated[str, typer.Argument(help="the worker's address")],
    allow: Annotated[bool, typer.Option(help="allow instead of block")] = False,
    clear: Annotated[bool, typer.Option(help="take the worker off both lists")] = False,
    url: Url = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """Block a worker from all your campaigns (--allow: allow them; --clear: neither)."""
    kind = None if clear else "allow" if allow else "block"
    with _client(url, api_key) as api:
        print(json.dumps(api.list_worker(worker, kind)))
