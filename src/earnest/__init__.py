"""Earnest: an open-source Internet Labor Market paying contributors in an SPL token on Solana."""

from earnest.domain.errors import EarnestError

__all__ = ["EarnestError", "__version__"]
__version__ = "0.1.0"
