"""Registry-wide property test: every registered id, fuzzed as a careful user would (issue 12).

For each id, hypothesis draws ``make`` kwargs from the family's parameter table (``env_cls.PARAMS``: each
documented range with its boundaries), and, independently of that table, values no parameter may accept (NaN,
±inf, a bogus string, 2**70, an object) for every keyword the constructor takes, values just outside each
table range, non-booleans for booleans, and valid and invalid actions. Each example runs in a forked child with
a wall-clock limit (a compiled kernel that never returns cannot be interrupted in-process), and asserts:

- construction succeeds, or raises ``ValueError``/``TypeError`` whose message names one of the drawn kwargs;
  a value no parameter may accept, or a value outside a documented range, is always refused;
- ``reset`` and 50 steps finish within ``LIMIT_S`` (generous for a shared 2-core machine: the budget is for
  hangs, typical examples take well under a second);
- observation, reward and every numeric info value are finite; the observation lies in ``observation_space``;
- an invalid action raises ``ValueError``/``TypeError`` naming ``action``; a valid one never raises.

Derandomised (the same examples every run), no shrinking (a hang would make shrinking take minutes; the failing
example is printed as drawn).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import multiprocessing as mp
import os
import re
import signal
import time
import traceback

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import recsim_envs
from recsim_envs.utils.validation import Array, Bool, Choice, Device, Int, Maybe, OneOf, Path, Real

IDS = recsim_envs.env_ids()
LIMIT_S = 30.0  # construction + reset + 50 steps, per example
N_STEPS = 50
#: heavy-but-valid sizes are drawn up to these caps except at the documented upper boundary itself (drawn one
#: time in eight); keeps the whole file near a minute of CPU
SIZE_CAPS = {"n_nodes": 400, "n_users": 2_000, "n_items": 2_000, "horizon": 200, "max_steps": 10**6}
NEVER_VALID = [float("nan"), float("inf"), float("-inf"), "__bogus__", 2**70]


# ---- what each id takes ------------------------------------------------------------------------------------
def _entry(env_id: str, vector: bool):
    spec = gym.spec(env_id)
    ep = spec.vector_entry_point if vector else spec.entry_point
    module, name = ep.split(":")
    obj = getattr(__import__(module, fromlist=[name]), name)
    return getattr(obj, "target_class", obj)  # the registration's wrapping entry points name their class


def _kwarg_names(cls) -> list[str]:
    """Keywords the constructor takes, read from the code (not from the table): builder signature or config
    dataclass fields, plus the env's own keywords."""
    names: list[str] = []
    builder = getattr(cls, "_builder", None)
    if builder is not None:
        names += [p for p in inspect.signature(builder).parameters]
    else:
        mod = __import__(cls.__module__.rsplit(".", 1)[0] + ".core", fromlist=["x"])
        config = next(
            v
            for k, v in vars(mod).items()
            if k.endswith("Config") and dataclasses.is_dataclass(v) and v.__module__ == mod.__name__
        )
        names += [f.name for f in dataclasses.fields(config) if f.init and f.name != "catalogue"]
    # render_mode of a single env is checked by gymnasium.make itself (gymnasium.error.Error); fuzzed on vector envs
    skip = ("self", "kwargs", "num_envs") + (() if "vector" in cls.__module__ else ("render_mode",))
    own = [p for p in inspect.signature(cls.__init__).parameters if p not in skip]
    return sorted(set(names) | set(own))


# ---- values from a spec --------------------------------------------------------------------------------------
def _upper(spec: Int, kwargs: dict, env_id: str):
    if spec.high_ref is None:
        return spec.high
    if spec.high_ref in kwargs:
        return spec.upper(kwargs)
    default = gym.spec(env_id).kwargs.get(spec.high_ref)
    return spec.upper({spec.high_ref: default}) if default is not None else spec.high


def valid_value(data, name, spec, kwargs, env_id, corner=False):
    """A documented value of ``spec``: a boundary or an interior draw (``corner``: boundaries only)."""
    if isinstance(spec, Real):
        lo = spec.low if spec.low_inclusive else math.nextafter(spec.low, math.inf)
        hi = spec.high if spec.high_inclusive else math.nextafter(spec.high, -math.inf)
        if corner:
            return data.draw(st.sampled_from([lo, hi]), label=name)
        return data.draw(st.one_of(st.sampled_from([lo, hi]), st.floats(lo, hi)), label=name)
    if isinstance(spec, Int):
        hi = _upper(spec, kwargs, env_id)
        lo = spec.low if spec.low is not None else 0
        hi = hi if hi is not None else lo + 20
        inner_hi = min(hi, max(lo, SIZE_CAPS.get(name, hi)))
        # heavy sizes: the upper boundary is one draw in eight, otherwise one in three
        where = ["lo", "hi"] + ["in"] * (6 if name in SIZE_CAPS else 1)
        if corner:
            where = ["lo", "hi"] if name not in SIZE_CAPS else ["lo"] * 3 + ["hi"]
        pick = data.draw(st.sampled_from(where), label=f"{name} where")
        if pick != "in":
            return lo if pick == "lo" else hi
        return data.draw(st.integers(lo, inner_hi), label=name)
    if isinstance(spec, Choice):
        return data.draw(st.sampled_from(spec.options), label=name)
    if isinstance(spec, Bool):
        return data.draw(st.sampled_from([True, False, np.True_, np.False_]), label=name)
    if isinstance(spec, Array):
        lo, hi = max(spec.low, -1e6), min(spec.high, 1e6)
        elem = st.sampled_from([lo, hi]) if corner else st.one_of(st.sampled_from([lo, hi]), st.floats(lo, hi))
        n = int(np.prod(spec.shape))
        flat = data.draw(st.lists(elem, min_size=n, max_size=n), label=name)
        return np.reshape(flat, spec.shape).tolist()
    if isinstance(spec, OneOf):
        if data.draw(st.booleans(), label=f"{name} preset?"):
            return valid_value(data, name, spec.choice, kwargs, env_id, corner)
        return valid_value(data, name, spec.other, kwargs, env_id, corner)
    if isinstance(spec, Maybe):
        if data.draw(st.booleans(), label=f"{name} unset?"):
            return None
        return valid_value(data, name, spec.inner, kwargs, env_id, corner)
    if isinstance(spec, Path):
        return None  # the shipped default; malformed files are the loaders' tests
    if isinstance(spec, Device):
        return data.draw(st.sampled_from([None, "cpu"]), label=name)  # (CI machines have no CUDA device)
    raise AssertionError(f"no strategy for {type(spec).__name__}")


def out_of_range(spec, kwargs, env_id) -> list:
    """Values just outside a documented range: always refused."""
    if isinstance(spec, Real):
        out = []
        if math.isfinite(spec.low):
            out += [spec.low - max(1.0, abs(spec.low))] + ([] if spec.low_inclusive else [spec.low])
        if math.isfinite(spec.high):
            out += [spec.high + max(1.0, abs(spec.high))] + ([] if spec.high_inclusive else [spec.high])
        return out
    if isinstance(spec, Int):
        hi = _upper(spec, kwargs, env_id)
        return ([spec.low - 1] if spec.low is not None else []) + ([hi + 1] if hi is not None else []) + [1.5]
    if isinstance(spec, Bool):
        return [1, 0, "no", None, 2]
    if isinstance(spec, Array):
        return [
            np.full(spec.shape, np.nan).tolist(),
            [1.0] * (int(np.prod(spec.shape)) + 1),
            ["a"] * int(np.prod(spec.shape)),
        ]
    if isinstance(spec, OneOf):
        return out_of_range(spec.other, kwargs, env_id)
    if isinstance(spec, Maybe):
        return out_of_range(spec.inner, kwargs, env_id)
    if isinstance(spec, Device):
        return ["tpu", "cuda:99", "gpu", 0]
    return []


@st.composite
def examples(draw, env_id: str, vector: bool):
    cls = _entry(env_id, vector)
    table = dict(cls.PARAMS)
    if "multi_objective" in inspect.signature(cls.__init__).parameters:
        table["multi_objective"] = Bool()
    names = _kwarg_names(cls)
    kwargs: dict = {}
    # one example in two is a corner: every parameter of the table at a boundary of its documented range
    corner = draw(st.booleans())
    chosen = sorted(table) if corner else draw(st.lists(st.sampled_from(sorted(table)), max_size=3, unique=True))
    for name in chosen:
        spec = table[name]
        if isinstance(spec, Int) and spec.high_ref in table and spec.high_ref not in kwargs:
            ref = spec.high_ref
            kwargs[ref] = valid_value(_Draw(draw), ref, table[ref], kwargs, env_id, corner)
        kwargs[name] = valid_value(_Draw(draw), name, spec, kwargs, env_id, corner)
    if "multi_objective" in kwargs and gym.spec(env_id).kwargs.get("multi_objective") and not vector:
        kwargs["multi_objective"] = True  # the MO ids require it (a False is refused, checked separately)
    bad = None
    mode = draw(st.sampled_from(["valid", "valid", "never", "out"]))
    if mode == "never":
        bad = draw(st.sampled_from(names))
        kwargs[bad] = draw(st.sampled_from(NEVER_VALID + ["object"]))
        if kwargs[bad] == "object":
            kwargs[bad] = object()
    elif mode == "out":
        choices = [n for n in sorted(table) if out_of_range(table[n], kwargs, env_id)]
        bad = draw(st.sampled_from(choices))
        kwargs[bad] = draw(st.sampled_from(out_of_range(table[bad], kwargs, env_id)))
    actions = draw(st.lists(st.sampled_from(["valid"] * 6 + INVALID_ACTIONS), min_size=N_STEPS, max_size=N_STEPS))
    return dict(kwargs=kwargs, bad=bad, seed=draw(st.integers(0, 2**31 - 1)), actions=actions, names=names)


class _Draw:
    """``data.draw`` look-alike for a composite strategy's ``draw``."""

    def __init__(self, draw):
        self._draw = draw

    def draw(self, strategy, label=None):
        return self._draw(strategy)


INVALID_ACTIONS = ["neg", "too_big", "huge", "fraction", "nan", "string", "none", "bool", "shape"]


def _invalid_action(kind: str, space, num_envs: int | None):
    n = int(space.n) if isinstance(space, gym.spaces.Discrete) else None
    base = {
        "neg": -1,
        "too_big": n if n is not None else 10**9,
        "huge": 2**70,
        "fraction": 0.5,
        "nan": float("nan"),
        "string": "a",
        "none": None,
        "bool": True,
        "shape": [[0, 0], [0, 0], [0, 0]],
    }[kind]
    if num_envs is None or kind == "shape":
        return base
    return [base] * num_envs


# ---- one example, in a child process ------------------------------------------------------------------------
def _finite(tree, where: str) -> None:
    if isinstance(tree, dict):
        for k, v in tree.items():
            _finite(v, f"{where}[{k!r}]")
        return
    if isinstance(tree, (bool, np.bool_, str)) or tree is None:
        return
    arr = np.asarray(tree)
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        raise AssertionError(f"non-finite {where}: {tree!r}")


def _names(message: str, names) -> bool:
    return any(re.search(rf"\b{re.escape(n)}\b", message) for n in names)


def run_example(env_id: str, vector: bool, ex: dict) -> None:
    kwargs, bad = ex["kwargs"], ex["bad"]
    t0 = time.perf_counter()
    try:
        if vector:
            env = gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", **kwargs)
        else:
            env = gym.make(env_id, disable_env_checker=True, **kwargs)
    except (ValueError, TypeError) as exc:
        # the drawn kwargs, or a default they conflict with (n_nodes=21 refuses the default degree 28)
        if not _names(str(exc), set(kwargs) | set(ex["names"])):
            raise AssertionError(f"{type(exc).__name__} names no parameter: {exc}") from exc
        return
    if bad is not None:
        raise AssertionError(f"{bad}={kwargs[bad]!r} was accepted (construction succeeded)")
    single_action = env.single_action_space if vector else env.action_space
    obs_space = env.observation_space
    env.action_space.seed(ex["seed"])
    rng = np.random.default_rng(ex["seed"])
    obs, info = env.reset(seed=ex["seed"])
    _check_obs(obs, obs_space, "reset obs")
    _finite(info, "reset info")
    for t, plan in enumerate(ex["actions"]):
        if plan != "valid":
            a = _invalid_action(plan, single_action, env.num_envs if vector else None)
            try:
                env.step(a)
            except (ValueError, TypeError) as exc:
                if "action" not in str(exc):
                    raise AssertionError(f"invalid action {plan} ({a!r}): message does not name it: {exc}") from exc
                continue
            raise AssertionError(f"invalid action {plan} ({a!r}) accepted at step {t}")
        obs, reward, terminated, truncated, info = env.step(_valid_action(env, rng))
        _check_obs(obs, obs_space, f"obs at step {t}")
        _finite(reward, f"reward at step {t}")
        _finite(info, f"info at step {t}")
        if not vector and (terminated or truncated):
            obs, info = env.reset()
    env.close()
    del t0


def _valid_action(env, rng):
    """A sample of the action space; where the env masks actions (coop, ``invalid_action="raise"`` refuses
    masked ones), a uniform choice among the unmasked."""
    masks = getattr(env.unwrapped, "action_masks", None)
    if masks is None:
        return env.action_space.sample()
    m = np.atleast_2d(masks())
    a = np.array([rng.choice(np.flatnonzero(row)) for row in m])
    return a if isinstance(env, gym.vector.VectorEnv) else int(a[0])


def _check_obs(obs, space, where: str) -> None:
    _finite(obs, where)
    if not space.contains(obs):
        raise AssertionError(f"{where} is outside observation_space")


def _child(conn, env_id, vector, ex):
    try:
        run_example(env_id, vector, ex)
        conn.send(None)
    except BaseException as exc:  # noqa: BLE001  (everything goes back to the parent)
        conn.send(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}")


@functools.cache
def _warm(env_id: str, vector: bool) -> None:
    """Build and step the default env once in the parent, so forked children inherit compiled kernels and loaded
    data instead of each compiling them under the time limit."""
    env = (
        gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point")
        if vector
        else gym.make(env_id, disable_env_checker=True)
    )
    env.reset(seed=0)
    env.step(env.action_space.sample())
    env.close()


def run_isolated(env_id: str, vector: bool, ex: dict, limit_s: float = LIMIT_S) -> str | None:
    """Run one example in a forked child; the failure message, or None."""
    _warm(env_id, vector)
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(child, env_id, vector, ex))
    t0 = time.perf_counter()
    p.start()
    child.close()
    msg: str | None = "no result"
    if parent.poll(limit_s):
        try:
            msg = parent.recv()
        except EOFError:
            msg = "child died without a result"
    else:
        msg = f"did not finish within {limit_s:.0f} s (hang?)"
    p.join(timeout=5)
    if p.is_alive():
        os.kill(p.pid, signal.SIGKILL)
        p.join()
    elif msg == "child died without a result":
        msg += f" (exit code {p.exitcode}, after {time.perf_counter() - t0:.1f} s)"
    return msg


def _describe(ex: dict) -> str:
    kw = {k: (v if not isinstance(v, list) or len(v) < 6 else f"[{len(v)} values]") for k, v in ex["kwargs"].items()}
    return f"kwargs={kw} bad={ex['bad']!r} seed={ex['seed']}"


_SETTINGS = dict(
    derandomize=True,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
    database=None,
)


def _fuzz(env_id: str, vector: bool, data) -> None:
    ex = data.draw(examples(env_id, vector=vector))
    msg = run_isolated(env_id, vector, ex)
    assert msg is None, f"{env_id}{' (vector)' if vector else ''} {_describe(ex)}: {msg}"


@pytest.mark.parametrize("env_id", IDS)
@settings(max_examples=12, **_SETTINGS)
@given(data=st.data())
def test_registered_id_survives_fuzzing(env_id, data):
    _fuzz(env_id, False, data)


@pytest.mark.parametrize("env_id", IDS)
@settings(max_examples=4, **_SETTINGS)
@given(data=st.data())
def test_native_vector_env_survives_fuzzing(env_id, data):
    _fuzz(env_id, True, data)


# the cases of issue 12, run through the same checks (they are also in the drawn ranges)
REGRESSIONS = [
    ("recsim_envs/PreferenceShiftOracle-v0", False, {"initial_mean_deg": 135.0, "initial_std_deg": 0.1}),
    ("recsim_envs/PreferenceShift-v0", False, {"beta_c": [1e3] * 36, "slate_std_deg": 1.0}),
    ("recsim_envs/CooperationRewiring-v0", False, {"n_nodes": 100, "degree": 97}),
    ("recsim_envs/CooperationRewiring-v0", False, {"n_nodes": 60, "degree": 58}),
    ("recsim_envs/PreferenceShift-v0", True, {"multi_objective": "no"}),
    ("recsim_envs/CooperationRewiring-v0", True, {"multi_objective": 2}),
    ("recsim_envs/HarmMitigation-v0", True, {"multi_objective": None}),
    ("recsim_envs/RecommenderCompetition-v0", False, {"reward_weights": ["a", "b", "c"]}),
]


@pytest.mark.parametrize("env_id,vector,kwargs", REGRESSIONS)
def test_issue_12_examples(env_id, vector, kwargs):
    bad = next((k for k in kwargs if k in ("multi_objective", "reward_weights")), None)
    ex = dict(kwargs=kwargs, bad=bad, seed=0, actions=["valid"] * N_STEPS, names=list(kwargs))
    msg = run_isolated(env_id, vector, ex)
    assert msg is None, f"{env_id} {_describe(ex)}: {msg}"
