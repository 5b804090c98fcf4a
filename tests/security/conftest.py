"""The attack suite: each test starts a real market on 127.0.0.1 and attacks it end to end.

The fixtures are the end-to-end tier's (a served SQLite market, a raw HTTP client, signed-in
SDK clients, funded campaigns), so an attack goes through the same HTTP stack a stranger
reaches.
"""

from tests.e2e.conftest import base_url, funded_campaign, http, sign_in

__all__ = ["base_url", "funded_campaign", "http", "sign_in"]
