"""``recsim_envs/PreferenceShiftLearned-v0``: users simulated from the learned user model ("training in simulation")."""

from __future__ import annotations

from typing import Any

from recsim_envs.preference.learned.core import PARAMS, LearnedShiftConfig, LearnedUserBatch
from recsim_envs.utils.shell import RecsimEnv


def make_model(n: int, **kwargs: Any) -> LearnedUserBatch:
    """``n`` users simulated from the learned model (the single env: ``n = 1``)."""
    return LearnedUserBatch(LearnedShiftConfig(**kwargs), n)


class PreferenceShiftLearnedEnv(RecsimEnv):
    """Recommendation to users simulated from a user model learned from interaction data (Carroll et al. 2022, §4–5).

    ## Description
    The ground-truth users of ``PreferenceShift-v0`` are replaced by the learned model of
    ``recsim_envs.preference.learned``: a small transformer trained only on logged slates and choices (the
    preferences are never observed) through the known choice model P(x | s, u) ∝ s(x) exp(β_c(u) xᵀu). Each step
    the future model gives the belief p̂_t = P̂_f(u_t | history) over the 36 preference bins, the user's choice is
    sampled from Σ_u p̂_t(u) P(x | s_t, u), and the safe-shift penalties are computed from the model too —
    the initial-preference model P̂_i (with the App. E.2 correction) and the counterfactual natural shifts of
    Algorithm 2. This is Algorithm 3: an RL recommender trained here never touches the ground truth, and its
    policy transfers unchanged to ``PreferenceShift-v0`` (same observation and action spaces).

    ## Observation Space
    ``obs_mode="history"``: ``Box(0, 1, (73,), float32)`` = last slate (36 probabilities; zeros at t = 0), last
    choice one-hot (36), t / horizon — identical to ``PreferenceShift-v0``. ``obs_mode="model_beliefs"``:
    ``Box(0, 1, (181,))`` adds the learned beliefs (36 each): P̂_f(u_t | history), P̂_i(u_0 | history) and the
    natural-shift belief P̂(u_t^rnd).

    ## Action Space
    ``action_set="six"``: ``Discrete(6)``, slate means 0°, 60°, …, 300°, std ``slate_std_deg``.
    ``action_set="fine"``: ``Discrete(72)``; a ↦ μ = 10°·(a mod 36), σ = 30° for a < 36 else 60°.

    ## Reward
    r_t = r̂_t + ν_initial r̂_t(u_0) + ν_natural r̂_t(u_t^rnd), estimated from the model:
    r̂_t = Σ_u p̂_t(u | x_t) x_tᵀu (belief after seeing the choice), r̂_t(u_0) = Σ_u P̂_i(u | x_0..x_t) x_tᵀu,
    r̂_t(u_t^rnd) = Σ_u P̂(u_t^rnd = u) x_tᵀu with P̂(u_t^rnd) = Σ_{u0} P̂_i(u0) table[t, u0] (Algorithm 2).
    Named components in ``info["rewards"]``; ``info["objectives"]`` is their float32 vector;
    ``PreferenceShiftLearnedMO-v0`` returns that vector as the reward.

    ## Dynamics
    Slate a_t → belief p̂_t → choice x_t ~ Σ_u p̂_t(u) P(x | s_{a_t}, u) → history grows by (s_t, x_t). The only
    random draw is the choice, from the env's counter-based stream (``reset(seed)`` fixes everything; user i of
    the vector env equals a single env seeded ``seed + i``).

    ## Starting State
    Empty history; the belief over u_0 is the model's learned population prior P̂_f(u_0).

    ## Episode End
    Terminated after ``horizon`` steps (at most the model's training horizon, 10). No truncation.

    ## Arguments
    ``checkpoint`` (path to a ``.npz`` from ``python -m recsim_envs.preference.learned.train``; ``None`` = the
    shipped default), ``horizon`` (int in [1, model horizon], 10), ``slate_std_deg`` ∈ [1, 360] (60),
    ``slate_kernel`` ("clipped_normal" | "von_mises"), ``action_set`` ("six" | "fine"), ``obs_mode`` ("history" |
    "model_beliefs"), ``nu_initial``, ``nu_natural`` (penalty weights, 0; the paper's names for
    ``reward_weights`` = (1, ν_initial, ν_natural)), ``device`` (``None``: the network runs in NumPy and compiled
    kernels on the CPU, with its keys and values cached; ``"cuda"``/``"cuda:N"``: in torch on that GPU, float64,
    the same numbers to rounding — the fast choice for large batches on a GPU machine; ``"cpu"``: torch on the
    CPU, for checking), ``render_mode``, and the shell's ``reward_weights``, ``multi_objective``, ``weights``
    (``recsim_envs.utils.shell``).

    ## Registered Configurations
    ``recsim_envs/PreferenceShiftLearned-v0`` (defaults), ``recsim_envs/PreferenceShiftLearnedPenalized-v0``
    (ν_initial = ν_natural = 1, the paper's penalised reward), ``recsim_envs/PreferenceShiftLearnedMO-v0``
    (vector reward).
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array", "ansi"], "render_fps": 2}
    PARAMS = PARAMS
    REWARD_ALIASES = ("nu_initial", "nu_natural")
    make_model = staticmethod(make_model)


class PreferenceShiftLearnedMOEnv(PreferenceShiftLearnedEnv):
    """Multi-objective twin: the reward is the vector of the three estimated components (MO-Gymnasium style)."""

    MULTI_OBJECTIVE_ONLY = True
