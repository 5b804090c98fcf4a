"""The bandwidth node: `earnest node` shares its operator's bandwidth for fetch jobs.

    from earnest.node import Node, NodeOptions
    report = Node(NodeOptions(market_url=..., keypair=..., log_path=..., once=True)).run()

Errors are part of the one exception tree: FetchRefused (a Forbidden: the node will not
make the request), CapReached (a FetchRefused: the day's bytes are spent) and FetchFailed
(the site could not be fetched). See docs/node.md.
"""

from earnest.node.daemon import Node, NodeOptions, NodeReport, load_wallet
from earnest.node.fetcher import Fetched, Fetcher, FetchFailed, Limits
from earnest.node.guard import FetchRefused, Guard, refusal
from earnest.node.journal import CapReached, DailyCap, Journal

__all__ = [
    "CapReached",
    "DailyCap",
    "FetchFailed",
    "FetchRefused",
    "Fetched",
    "Fetcher",
    "Guard",
    "Journal",
    "Limits",
    "Node",
    "NodeOptions",
    "NodeReport",
    "load_wallet",
    "refusal",
]
