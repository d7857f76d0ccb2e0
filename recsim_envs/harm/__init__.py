"""Harm-exposure users (Chee et al., KDD 2024): catalogue data, choice model, attraction dynamics, stationary
profile and its implicit-function-theorem gradient, and the ``HarmMitigation`` envs."""
