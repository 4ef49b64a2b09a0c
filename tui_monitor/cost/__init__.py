"""Money: prices, the running ledger, budgets, and the money a tick carries (tick.py)."""
