"""Sphinx extension: write the generated pages of the recsim_envs docs before Sphinx reads the sources.

* ``envs/generated/<id>.md`` — one page per registered id, from the registry entry (kwargs, entry points), the
  env class docstring (the spec), ``inspect.signature`` (arguments and defaults), an instance (spaces, named
  reward components of one step) and a frame drawn by the env's own ``render()``.
* ``results/generated/<section>.md`` — ``benchmarks/RESULTS.md`` split at its second-level headings, so the
  results pages show exactly the recorded tables and commands.
* ``_generated/leaderboard.md`` — the leaderboard's own Markdown output when the main job has written it.

Everything is rewritten on every build, so the pages cannot drift from the code.
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
ENV_DIR = DOCS / "envs" / "generated"
RESULTS_DIR = DOCS / "results" / "generated"
FRAME_DIR = DOCS / "_generated" / "frames"
LEADERBOARD_OUTPUT = ROOT / "results" / "leaderboard_quick" / "leaderboard.md"

FAMILY_TITLES = {
    "preference": "Preference shift (Carroll et al., ICML 2022)",
    "harm": "Harm exposure (Chee et al., KDD 2024)",
    "coop": "Cooperation dilemma with rewiring (Carvalho 2021)",
}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def family_of(entry_point: str) -> str:
    return entry_point.split(".")[1]


def _space_summary(space: Any) -> str:
    """A short, exact description of a gymnasium space (no dumps of large bound arrays)."""
    from gymnasium import spaces

    if isinstance(space, spaces.Dict):
        inner = ", ".join(f"`{k}`: {_space_summary(v)}" for k, v in space.spaces.items())
        return f"Dict({inner})"
    if isinstance(space, spaces.Box):
        lo, hi = np.asarray(space.low), np.asarray(space.high)
        if lo.size and np.all(lo == lo.flat[0]) and np.all(hi == hi.flat[0]):
            bounds = f"[{lo.flat[0]:g}, {hi.flat[0]:g}]"
        else:
            bounds = f"per-entry bounds in [{lo.min():g}, {hi.max():g}]"
        return f"Box({space.dtype}, shape {tuple(space.shape)}, {bounds})"
    if isinstance(space, spaces.Discrete):
        return f"Discrete({int(space.n)})"
    if isinstance(space, spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec)
        if nvec.size and np.all(nvec == nvec.flat[0]):
            return f"MultiDiscrete([{int(nvec.flat[0])}] × {nvec.size})"
        return f"MultiDiscrete({nvec.tolist()})"
    if isinstance(space, spaces.MultiBinary):
        return f"MultiBinary({space.n})"
    return repr(space)


def _sample_action(env: Any, obs: Any, rng: np.random.Generator) -> Any:
    space = env.action_space
    space.seed(int(rng.integers(2**31)))
    if isinstance(obs, dict) and "action_mask" in obs:
        return space.sample(mask=np.asarray(obs["action_mask"], dtype=np.int8))
    return space.sample()


def _sb3_hint(env: Any, obs_space: Any) -> str:
    from gymnasium import spaces

    parts = []
    if isinstance(obs_space, spaces.Dict):
        parts.append("`MultiInputPolicy` (dict observation)")
    else:
        parts.append("`MlpPolicy`")
    if isinstance(obs_space, spaces.Dict) and "action_mask" in obs_space.spaces:
        parts.append("`sb3_contrib.MaskablePPO` uses the `action_mask` entry")
    if getattr(env.unwrapped, "reward_dim", 1) not in (None, 1) and hasattr(env.unwrapped, "reward_space"):
        parts.append(
            "vector reward: scalarise it (e.g. MO-Gymnasium's `LinearReward`) before a single-objective learner"
        )
    return "; ".join(parts)


def _arguments_table(cls: type, env: Any) -> list[str]:
    """Constructor arguments with defaults: the class's own, then those its ``**kwargs`` are forwarded to
    (a family's config dataclass, or the task builder function of the cooperation family)."""
    import dataclasses

    rows = ["| argument | default |", "|---|---|"]

    def add(params: Any) -> None:
        for name, p in params:
            if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            default = "required" if p.default is inspect.Parameter.empty else f"`{p.default!r}`"
            rows.append(f"| `{name}` | {default} |")

    own = inspect.signature(cls.__init__).parameters
    add(own.items())
    if any(p.kind == p.VAR_KEYWORD for p in own.values()):
        builder = getattr(cls, "_builder", None)
        config = getattr(env.unwrapped, "config", None)
        if builder is not None:
            add(inspect.signature(builder).parameters.items())
        elif config is not None and dataclasses.is_dataclass(config):
            for f in dataclasses.fields(config):
                if not f.init or f.name.startswith("_"):
                    continue
                if f.default is not dataclasses.MISSING:
                    default = f"`{f.default!r}`"
                elif f.default_factory is not dataclasses.MISSING:
                    default = f"`{f.default_factory()!r}`"
                else:
                    default = "required"
                rows.append(f"| `{f.name}` | {default} |")
    return rows


def _docstring_body(cls: type) -> tuple[str, str]:
    doc = inspect.getdoc(cls) or ""
    first, _, rest = doc.partition("\n")
    # The class docstrings use second-level Markdown headings (## Description, ...), which sit directly under the
    # page title. Lines that would be read as MyST directives or targets are left as they are.
    return first.strip(), rest.strip()


def write_env_pages() -> list[tuple[str, str, str]]:
    import gymnasium as gym

    import recsim_envs

    if ENV_DIR.exists():
        shutil.rmtree(ENV_DIR)
    ENV_DIR.mkdir(parents=True)
    FRAME_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for env_id in recsim_envs.env_ids():
        spec = gym.spec(env_id)
        fam = family_of(spec.entry_point)
        module_name, cls_name = spec.entry_point.split(":")
        cls = getattr(__import__(module_name, fromlist=[cls_name]), cls_name)
        cls = getattr(cls, "target_class", cls)  # registration wraps some classes (weights=, autoreset_mode=)
        env = gym.make(env_id, render_mode="rgb_array", disable_env_checker=True)
        rng = np.random.default_rng(0)
        obs, _ = env.reset(seed=0)
        info: dict[str, Any] = {}
        for _ in range(3):
            obs, _r, term, trunc, info = env.step(_sample_action(env, obs, rng))
            if term or trunc:
                obs, _ = env.reset(seed=1)
        frame = env.render()
        page = slug(env_id.split("/")[-1])
        frame_file = FRAME_DIR / f"{page}.png"
        _save_png(frame, frame_file)
        summary, body = _docstring_body(cls)
        rewards = sorted(info.get("rewards", {}))
        lines = [
            f"# {env_id.split('/')[-1]}",
            "",
            f"*{summary}*",
            "",
            f"![A frame rendered by this environment after three random steps]"
            f"(../../_generated/frames/{frame_file.name})",
            "",
            "## At a glance",
            "",
            "| | |",
            "|---|---|",
            f"| id | `{env_id}` |",
            f"| family | {FAMILY_TITLES.get(fam, fam)} |",
            f"| class | `{cls.__module__}:{cls.__name__}` |",
            f"| native vector env | `{spec.vector_entry_point}` |"
            if spec.vector_entry_point
            else "| native vector env | — |",
            f"| registered kwargs | `{json.dumps(spec.kwargs, sort_keys=True)}` |",
            f"| observation space | {_space_summary(env.observation_space)} |",
            f"| action space | {_space_summary(env.action_space)} |",
            f"| named reward components (`info['rewards']`) | {', '.join(f'`{k}`' for k in rewards) or '—'} |",
        ]
        if hasattr(env.unwrapped, "reward_space"):
            lines.append(f"| vector reward | {_space_summary(env.unwrapped.reward_space)} |")
        lines += [
            f"| Stable-Baselines3 | {_sb3_hint(env, env.observation_space)} |",
            "",
            "```python",
            "import gymnasium as gym",
            "import recsim_envs  # registers every id",
            "",
            f'env = gym.make("{env_id}")',
            "obs, info = env.reset(seed=0)",
            "```",
            "",
            "## Constructor arguments",
            "",
            "Keyword arguments of `gymnasium.make`, with their defaults (the registered kwargs above override "
            "them); allowed ranges are given in the *Arguments* section below.",
            "",
            *_arguments_table(cls, env),
            "",
            body,
            "",
        ]
        env.close()
        (ENV_DIR / f"{page}.md").write_text("\n".join(lines), encoding="utf-8")
        written.append((fam, env_id, page))
    index = ["# Environment pages", "", "Generated from the registry and the class docstrings on every build.", ""]
    for fam, title in FAMILY_TITLES.items():
        members = [(i, p) for f, i, p in written if f == fam]
        if not members:
            continue
        index += [f"## {title}", ""]
        index += [f"- [{i.split('/')[-1]}]({p}.md)" for i, p in members]
        index.append("")
    index += ["```{toctree}", ":hidden:", "", *[p for _, _, p in written], "```", ""]
    (ENV_DIR / "index.md").write_text("\n".join(index), encoding="utf-8")
    return written


def _save_png(frame: np.ndarray, path: Path) -> None:
    import matplotlib.image

    arr = np.asarray(frame)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.dtype != np.uint8:
        raise ValueError(f"render() returned {arr.dtype} {arr.shape}; expected uint8 HxWx3")
    matplotlib.image.imsave(path, arr)


def _consecutive_headings(body: str, top: int = 1) -> str:
    """Renumber Markdown headings under a page title of level ``top`` so no level is skipped.

    RESULTS.md sometimes nests "####" directly under "##"; each heading becomes at most one level deeper than the
    one before it (code blocks are left alone).
    """
    out, in_code, prev = [], False, top
    for line in body.split("\n"):
        if line.startswith("```"):
            in_code = not in_code
        m = None if in_code else re.match(r"^(#+) (.*)$", line)
        if m:
            level = min(len(m.group(1)) - 1, prev + 1)
            level = max(level, top + 1)
            prev = level
            line = "#" * level + " " + m.group(2)
        out.append(line)
    return "\n".join(out)


def write_results_pages() -> list[str]:
    if RESULTS_DIR.exists():
        shutil.rmtree(RESULTS_DIR)
    RESULTS_DIR.mkdir(parents=True)
    text = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    sections = re.split(r"(?m)^## ", text)
    preamble, sections = sections[0], sections[1:]
    pages = []
    for sec in sections:
        title, _, body = sec.partition("\n")
        page = slug(title)[:60]
        body = _consecutive_headings(body)
        (RESULTS_DIR / f"{page}.md").write_text(f"# {title.strip()}\n{body}", encoding="utf-8")
        pages.append((title.strip(), page))
    intro = re.sub(r"(?m)^# .*\n", "", preamble).strip()
    index = [
        "# Results",
        "",
        "Each page below is one section of `benchmarks/RESULTS.md`, where every measured figure is recorded with",
        "the command that produces it, the machine and the date. The pages are regenerated from that file on every",
        "build.",
        "",
        intro,
        "",
        *[f"- [{t}]({p}.md)" for t, p in pages],
        "",
        "```{toctree}",
        ":hidden:",
        "",
        *[p for _, p in pages],
        "```",
        "",
    ]
    (RESULTS_DIR / "index.md").write_text("\n".join(index), encoding="utf-8")
    return [p for _, p in pages]


def write_leaderboard_page() -> None:
    out = DOCS / "_generated" / "leaderboard.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    if LEADERBOARD_OUTPUT.exists():
        body = LEADERBOARD_OUTPUT.read_text(encoding="utf-8")
        body = re.sub(r"(?m)^(#+) ", r"#\1 ", body)  # nest under the page title
        note = f"Rendered from `{LEADERBOARD_OUTPUT.relative_to(ROOT)}` as written by the last run of the main job."
    else:
        body = ""
        note = (
            "The main job has not been run in this checkout, so there is no leaderboard output to show. Run "
            "`python -m benchmarks.leaderboard --quick --train-quick` and rebuild the docs; the recorded run is "
            "in the *Agents* section of the results pages."
        )
    out.write_text(f"{note}\n\n{body}", encoding="utf-8")


def generate(app: Any) -> None:
    write_env_pages()
    write_results_pages()
    write_leaderboard_page()


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    return {"version": "1", "parallel_read_safe": True}
