"""Preference-shift users (Carroll et al., ICML 2022): circle world, ground-truth dynamics, NHMM oracle, envs."""
