"""Learned user model of Carroll et al. (ICML 2022, §4 and App. C–E): estimating preference shifts from data.

- ``data``: the historical-data generator (mixture behaviour policy on the ground-truth users) and its file format.
- ``network``: the NumPy forward pass of the small transformer (whole sequences, or incrementally with cached
  keys/values) and the validated checkpoint (``LearnedUserModel``); the env and the algorithms run on it without
  torch.
- ``transformer``: the same network in torch and its training by the choice likelihood (needs the ``train``
  extra).
- ``algorithms``: Algorithms 1–2 (future and counterfactual preference estimation); Algorithm 3 (penalised
  simulation, ``generate_penalised_trajectories``) is in ``core`` next to the per-step update it runs.
- ``core``: the simulated users shared by the envs; ``env`` / ``vector_env``: ``recsim_envs/PreferenceShiftLearned-v0``
  ("training in simulation").
- ``train``: ``python -m recsim_envs.preference.learned.train`` rebuilds the shipped checkpoint from its seed.
"""
