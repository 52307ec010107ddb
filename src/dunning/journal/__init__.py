"""The ledger as a journal, the one truth between the runs.

Its public calls:

* `Store` (store.py): the database, its migrations and `writing()`, the transaction that holds the ledger's lock;
  the send queue (queue.py) and the pages' records (pages.py) are its methods.
* `recording.plan` / `recording.write`: what a run learnt (an export, payments) planned, then written at once.
* `rules.observed`: payments through the rules at the door (currency, date, identity).
* `matcher.match`: which movement of money each observation is.
* `balance.settle`, `balance.of_orders`, `balance.book`: the one balance.
* `payments` (assign, move), `decisions`, `history`: the merchant's entries and an order's whole story.
"""
from dunning.journal.store import Store

__all__ = ["Store"]
