"""``recsim_envs/HarmMitigation-v0``: users drawn toward what they consume, including harmful content."""

from __future__ import annotations

from typing import Any

from recsim_envs.harm.core import PARAMS, HarmConfig, HarmUserBatch
from recsim_envs.utils.shell import RecsimEnv


def make_model(n: int, **kwargs: Any) -> HarmUserBatch:
    """``n`` users of the HarmMitigation ids (the single env: ``n = 1``)."""
    return HarmUserBatch(HarmConfig(**kwargs), n)


class HarmMitigationEnv(RecsimEnv):
    """Recommending to a user whose profile is attracted to what they consume (Chee et al., KDD 2024).

    ## Description
    A catalogue of n items with embeddings v ∈ R^d (d = 12: MF factors with folded biases) and harm flags; a user
    with inherent profile u0 and current profile u; scores s_v = exp(⟨u, v⟩) (paper §3). Each step the
    recommender shows a set E of k items. With probability s_E / (s_E + c) the user clicks one of them (item
    v ∈ E with probability ∝ s_v); otherwise (outside option c) the user chooses organically from the whole
    catalogue with probability s_v / s_Ω — harmful items included. The consumed item v then attracts the
    profile: u ← (1 − α_v − β) u + α_v v + β u0 with α_v = α_H for harmful items, α_NH otherwise (paper eq. 3).
    The analytic model (``recsim_envs.harm.model``) gives pCLK, pH and the stationary profile ū; a fixed policy's
    long-run average click and harm rates in this env approach pCLK and pH at ū (exactly in the small-step limit,
    since ū is the fixed point of the *expected* update; the tests check it at α, β scaled by 0.01).

    ## Observation Space
    ``Box(float32, (2d + 1,))``: current profile u, inherent profile u0, t / horizon. Bounds: the bounding box of
    {u0 of all users} ∪ {item embeddings} (profiles stay in their convex hull), padded by 0.1 %.

    ## Action Space
    Every point of the action space is a valid action (``action_space.sample()`` never raises).

    ``action_type="items"`` (HarmMitigation-v0): indices into the *recommendable* items
    ``env.unwrapped.config.candidates`` (the non-harmful items unless ``allow_harmful=True``; n_rec of them).
    k = 1: ``Discrete(n_rec)`` (an int; a length-1 array is accepted too), so DQN-style and MORL algorithms that
    need ``Discrete`` run. k > 1: ``MultiDiscrete([n_rec] * k)``; repeated indices are resolved, not refused:
    reading the action left to right, an entry that repeats an earlier one is replaced by the lowest-numbered
    recommendable index the action does not name (so the slate always has k distinct items; a policy that names
    k distinct items gets exactly those). Out-of-range or non-integer indices raise ``ValueError``.

    ``action_type="logits"`` (HarmMitigationSampling-v0): ``Box(-1, 1, (n_rec,))`` float64 (normalised, as SB3
    recommends), one entry a_v per recommendable item, read as the logit x_v = 5·a_v; the env includes item v
    independently with probability q_v = min(1, k · softmax(x)_v), so 0 ≤ q ≤ 1 and Σq ≤ k for every action
    (Σq = k unless some q_v is capped at 1). A Gaussian policy (PPO's ``MlpPolicy``) learns it directly: its
    initial mean 0 is the uniform policy q_v = k / n_rec, and raising the entries of a few chosen items
    concentrates the k expected inclusions on them (the other entries need not move); at a = ±1 an item's
    weight differs by e^10 from one at ∓1. Any real value and ±inf are decoded by the same rule (−inf: q_v = 0;
    +inf entries share the mass), so ``config.encode_logits(q)`` maps inclusion probabilities with Σq ≤ k to
    actions the env decodes exactly; NaN raises ``ValueError``.

    ``action_type="probabilities"``: ``Box(0, 1, (n_rec,))``, per-item inclusion weights a, q_v = a_v·min(1, k/Σa)
    (Σq ≤ k for every action; a policy that already satisfies Σq ≤ k is used unchanged) — the analytic
    baselines' native encoding; values outside [0, 1] raise ``ValueError``.

    ## Reward
    r = click − λ · harm, with click = 1 if a recommended item was clicked and harm = 1 if the consumed item
    (clicked or organic) is harmful. ``info["rewards"]`` = {"click", "harm"}; ``info["objectives"]`` = float32
    (click, −harm), so r = objectives · (1, λ). ``HarmMitigationMO-v0`` returns the objectives vector as reward
    (``reward_space = Box([0, −1], [1, 0])``, ``reward_dim = 2``).

    ## Info
    ``click``, ``harm``, ``item`` (consumed catalogue index), ``recommended_mask`` [n] (the realised set E),
    ``profile`` (after the update), ``previous_profile``, ``pclk`` and ``ph`` (analytic, this action at the
    profile it met), ``harm_share`` σ_H = s_H / s_Ω at that profile, ``user``, ``next_user`` (whose observation
    is returned: differs from ``user`` only in the vector env after an autoreset), ``t``, ``rewards``,
    ``objectives``.

    ## Dynamics
    Choice and inclusion draws come from the env's counter-based streams (``reset(seed)`` fixes everything;
    vector-env user i equals a single env seeded ``seed + i``).

    ## Starting State
    A user index drawn uniformly from the catalogue's n_users; u = u0.

    ## Episode End
    Terminated after ``horizon`` steps (t / horizon is observed). No truncation.

    ## Arguments
    ``dataset`` ("synthetic" or a MovieLens directory), ``genre`` (MovieLens only; "Sci-Fi"), ``n_items`` (2 … 100,000;
    100), ``n_users`` (1 … 10⁶; 100), ``k`` (1), ``c`` (> 0, 6.0), ``lam`` λ ≥ 0 (100), ``alpha_harmful`` α_H (0.5),
    ``alpha_benign`` α_NH (0.25), ``beta`` β (0.2; α ≥ 0, β > 0, max α + β ≤ 1), ``horizon`` (100),
    ``action_type`` ("items" | "logits" | "probabilities"), ``allow_harmful`` (bool, False), ``parental_guide`` /
    ``labels`` (MovieLens only: CSV paths for real harm labels, see ``recsim_envs.harm.data``; the synthetic
    catalogue refuses ``genre``, ``labels`` and ``parental_guide``), ``catalogue_seed`` (synthetic catalogue, 0),
    ``analytic_info`` (bool, True; False drops ``pclk``/``ph`` from info, which for the sampling variants costs an
    [n × ~80] quadrature per user-step), ``render_mode``, and the shell's ``reward_weights`` (λ is its alias:
    ``reward_weights`` = (1, λ)), ``multi_objective``, ``weights`` (``recsim_envs.utils.shell``).

    ``catalogue``: your own problem instead of ``dataset`` — a dict ``{"item_embeddings": [n, d],
    "harmful": [n] (bool or 0/1), "user_profiles": [m, d]}`` of arrays or nested lists (optionally ``"titles"``),
    the path of an ``.npz`` file holding those arrays, or a ``recsim_envs.harm.data.Catalogue``
    (``make_catalogue`` builds one). ⟨u0, v⟩ is the log-score of item v for a user with profile u0 (for an MF
    fit, fold the biases in as ``data.fold_biases`` does). ``n_items``/``n_users`` are derived (passing a
    different value, or ``dataset``/``genre``/``labels``/``parental_guide`` with it, raises ``ValueError``);
    mismatched shapes, NaN/inf entries and a catalogue with no recommendable item raise ``ValueError``.
    Defaults are the paper's reference parameters. Calibration of c (``baselines.harm.calibrate_c``: the largest
    c with mean pCLK ≥ 0.5 under both uniform and alternating): k = 1 gives c ≈ 7.1 on the synthetic default and
    ≈ 7.8 on ml-latest-small Sci-Fi, so the paper's c = 6 sits just inside (pCLK 0.54–0.56 uniform, 0.82–0.85
    top-k, pH 0.03–0.11); k = 5 sampling gives c ≈ 32–36 vs the paper's 20 (see ``benchmarks/RESULTS.md``).

    ## Registered Configurations
    ``recsim_envs/HarmMitigation-v0`` (k = 1 items, c = 6), ``recsim_envs/HarmMitigationSampling-v0``
    (independent sampling, k = 5, c = 20 as in the paper), ``recsim_envs/HarmMitigationMO-v0`` (vector reward).
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array", "ansi"], "render_fps": 4}
    PARAMS = PARAMS
    REWARD_ALIASES = ("lam",)
    make_model = staticmethod(make_model)


class HarmMitigationMOEnv(HarmMitigationEnv):
    """Multi-objective twin: reward = (click, −harm), ``reward_space = Box([0, −1], [1, 0])``, ``reward_dim = 2``;
    the scalar env's reward equals ``objectives @ (1, λ)``."""

    MULTI_OBJECTIVE_ONLY = True
