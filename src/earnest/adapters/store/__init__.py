"""The store adapter: SQLAlchemy 2 Core over SQLite (WAL) or PostgreSQL."""

from earnest.adapters.store.engine import create_store_engine
from earnest.adapters.store.migrations import migrate
from earnest.adapters.store.uow import SqlStore

__all__ = ["SqlStore", "create_store_engine", "migrate"]
