"""Label values /metrics may carry, and how many: every value an agent or a model name gives
becomes a time series in someone's Prometheus, so names are cleaned (safe.py), shortened,
folded (`name#2` -> `name`) and capped, and what does not fit is summed under OTHER."""

from __future__ import annotations

from collections.abc import Iterable

from .. import safe

OTHER = "(other)"
"""Where agents and models past the cap are summed. Parenthesised like the cost ledger's
bucket: a configured agent name must begin with a letter or digit, so none can clash."""
LABEL_MAX = 64
"""Characters a label value keeps (names are shortened with an ellipsis past it)."""


def label(value: str) -> str:
    """A name as a label value: one line, escapes shown, bounded (`safe.name`)."""
    return safe.name(value, LABEL_MAX)


def fold_instance(name: str) -> str:
    """`worker#3` -> `worker`: the collector numbers the second and later instances of a rule
    (collect/agents.py), and those numbers are not stable enough to name a series."""
    base, sep, number = name.rpartition("#")
    return base if sep and base and number.isdigit() else name


class AgentSlots:
    """At most `cap` agent label values at a time. A value keeps its slot for as long as it
    is present (its series never flips to OTHER while it lives); free slots go to newcomers
    in name order, so the choice does not depend on the order rows arrive in."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._held: set[str] = set()

    def assign(self, names: Iterable[str]) -> tuple[dict[str, str], int]:
        """Each present name -> its label value; and how many were folded into OTHER."""
        present = set(names)
        kept = self._held & present
        room = max(0, self.cap - len(kept))
        admitted = sorted(present - kept)[:room]
        self._held = kept | set(admitted)
        out = {n: (n if n in self._held else OTHER) for n in present}
        return out, len(present) - len(self._held)


class ModelSlots:
    """At most `cap` model label values for the life of the recorder: the token and cost
    counters by model must never move between labels (a counter that does looks reset)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._known: set[str] = set()

    def of(self, model: str) -> str:
        value = label(model)
        if value in self._known:
            return value
        if len(self._known) < self.cap:
            self._known.add(value)
            return value
        return OTHER
