"""The domain: money, ledger rules, work state machines, receipts. Standard library only."""
