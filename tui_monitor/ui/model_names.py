"""Model names short enough for a table cell, and never mistaken for one another.

`claude-sonnet-4-5-20250929` reads as `sonnet-4-5` in the MODEL column; the agent screen has
the full name. A shorter form is used only where no other model among those shown could be
read the same way (two snapshots of one model keep their dates), so a short name always
means one model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..models import AgentSample

_DATE = re.compile(r"-(?:20\d{6}|20\d{2}-\d{2}-\d{2})$")
"""A snapshot date at the end: Anthropic's `-20250929`, OpenAI's `-2024-08-06`."""
_PREFIX = re.compile(r"^claude-(?=[a-z])")
"""`claude-` before a family name (`claude-opus-4-1`); kept before a version number, where
`3-5-sonnet` alone would say less than `claude-3-5-sonnet`."""


def newest_model(agent: AgentSample) -> str | None:
    """The model of its session's latest response (else the last of `meta.models`)."""
    session = agent.session
    if session is None:
        return None
    if session.meta.model:
        return session.meta.model
    return session.meta.models[-1] if session.meta.models else None


def _forms(model: str) -> list[str]:
    """Ways to write `model`, shortest first, the full name last."""
    undated = _DATE.sub("", model)
    forms = [_PREFIX.sub("", undated), undated, _PREFIX.sub("", model), model]
    return list(dict.fromkeys(forms))


def short_models(models: Iterable[str]) -> dict[str, str]:
    """Each model's shortest form that no other model in `models` has among its forms (the
    full name where there is none), so different models never share a short name.

    Returns:
        Full name -> the name to show.
    """
    distinct = list(dict.fromkeys(models))
    forms = {m: _forms(m) for m in distinct}
    shown: dict[str, str] = {}
    for m in distinct:
        taken = {f for other in distinct if other != m for f in forms[other]}
        shown[m] = next((f for f in forms[m] if f not in taken), m)
    return shown
