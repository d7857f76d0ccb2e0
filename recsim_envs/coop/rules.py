"""Rewiring rules ("recommenders") of Carvalho (2021) as integer codes for the compiled kernel.

A rule decides which node ``z`` a rewiring node ``a`` links to after dropping ``b``. Every rule draws only from
the candidate set "not ``a``, not a current neighbour of ``a``" (``b`` is still a neighbour at that moment);
an empty candidate set skips the rewire. Codes:

- ``NULL``: never rewires (every structural update is skipped).
- ``NO_MED`` (local, no recommender): uniform over N(b) \\ N(a) \\ {a} (triadic closure through ``b``).
- ``GOOD`` / ``BAD`` / ``RANDOM``: uniform over cooperators / defectors / all nodes.
- ``FAIR``: uniform over nodes with ``a``'s own strategy.
- the 3×3 grid ``{D, ANY, C}_{LOW, RAND, HIGH}``: strategy group × lowest / random / highest current degree,
  ties broken uniformly at random. ``C_RAND``, ``D_RAND`` and ``ANY_RAND`` are the same rules as ``GOOD``, ``BAD``
  and ``RANDOM``.
- ``EXTERNAL``: the environment's agent chooses ``z`` (the kernel pauses and reports the pending rewire).
- suffix ``_X`` (exclusive, for competition): candidates further restricted to users of ``a``'s recommender.
"""

from __future__ import annotations

NULL = 0
NO_MED = 1
GOOD = 2
BAD = 3
RANDOM = 4
FAIR = 5
# degree-ranked grid: group (0 = defectors, 1 = cooperators, 2 = any) × mode (0 lowest, 1 highest)
D_LOW, D_HIGH, C_LOW, C_HIGH, ANY_LOW, ANY_HIGH = 6, 7, 8, 9, 10, 11
EXTERNAL = 15
EXCLUSIVE = 32  # flag added to a base code

_BASE = {
    "NULL": NULL,
    "NO_MED": NO_MED,
    "LOCAL": NO_MED,
    "GOOD": GOOD,
    "BAD": BAD,
    "RANDOM": RANDOM,
    "FAIR": FAIR,
    "D_LOW": D_LOW,
    "D_RAND": BAD,
    "D_HIGH": D_HIGH,
    "ANY_LOW": ANY_LOW,
    "ANY_RAND": RANDOM,
    "ANY_HIGH": ANY_HIGH,
    "C_LOW": C_LOW,
    "C_RAND": GOOD,
    "C_HIGH": C_HIGH,
    "EXTERNAL": EXTERNAL,
}

#: every accepted rule name (case-insensitive); ``NAME_X`` is the exclusive variant of ``NAME``
RULE_NAMES: tuple[str, ...] = tuple(list(_BASE) + [f"{n}_X" for n in _BASE if n != "NULL"])

#: the 3×3 grid in the paper's order (rows: defectors, any, cooperators; columns: lowest, random, highest degree)
GRID_NAMES: tuple[tuple[str, ...], ...] = (
    ("D_LOW", "D_RAND", "D_HIGH"),
    ("ANY_LOW", "ANY_RAND", "ANY_HIGH"),
    ("C_LOW", "C_RAND", "C_HIGH"),
)


def rule_code(name: str, param: str = "rule") -> int:
    """Integer code of a rule name (``"GOOD"``, ``"no_med"``, ``"GOOD_X"`` ...); ``ValueError`` if unknown."""
    if not isinstance(name, str) or name.upper() not in RULE_NAMES:
        raise ValueError(f"{param} must be one of {list(RULE_NAMES)}, got {name!r}")
    n = name.upper()
    if n.endswith("_X") and n not in _BASE:
        return _BASE[n[:-2]] | EXCLUSIVE
    return _BASE[n]


def rule_name(code: int) -> str:
    """Canonical name of a code (inverse of :func:`rule_code` up to aliases)."""
    base, excl = int(code) & (EXCLUSIVE - 1), bool(int(code) & EXCLUSIVE)
    canon = {v: k for k, v in reversed(list(_BASE.items()))}
    canon.update({NO_MED: "NO_MED", GOOD: "GOOD", BAD: "BAD", RANDOM: "RANDOM"})
    if base not in canon:
        raise ValueError(f"code must be a rule code, got {code!r}")
    return canon[base] + ("_X" if excl else "")
