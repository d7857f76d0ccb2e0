"""Policies that are not learned by RL, all behind the :class:`baselines.protocol.Policy` protocol."""
