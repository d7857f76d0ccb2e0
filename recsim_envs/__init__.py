"""recsim_envs: Gymnasium environments for recommender-alignment research.

Importing the package registers every environment under the ``recsim_envs`` namespace, e.g.
``gymnasium.make("recsim_envs/PreferenceShift-v0")``; ``gymnasium.make("recsim_envs:recsim_envs/...")`` works
without a prior import.
"""

from __future__ import annotations

from recsim_envs.registration import env_ids, register_all

__version__ = "0.1.0"

register_all()

__all__ = ["env_ids", "register_all", "__version__"]
