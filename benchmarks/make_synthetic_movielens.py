"""Write a synthetic MovieLens-format directory of ML-25M size, for loader and MF benchmarks (never committed).

``movies.csv`` (movieId, title, genres), ``links.csv`` and ``ratings.csv`` (userId, movieId, rating, timestamp)
with ML-25M's shape by default: 162,541 users, 62,423 movies, ≈ 25 M ratings (per-user counts log-normal with
mean ≈ 154 and at least 20, as in ML-25M). About 10 % of the movies carry the genre Sci-Fi (a quarter of those also
Horror, which the tag proxy flags). Movies are drawn by a Zipf-like popularity (weight ∝ 1 / (rank + 10), Sci-Fi
×3, so that nearly every user rates some of the 1,000 most-rated Sci-Fi movies); each (user, movie) pair appears
once. Ratings are half stars from a rank-5 model plus noise, clipped to [0.5, 5]. Seeded: the same arguments give
the same files.

Usage: ``python -m benchmarks.make_synthetic_movielens --out /tmp/synthetic-ml25m`` (≈ 0.6 GB; a few minutes)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def write(out: Path, n_users: int, n_movies: int, mean_ratings: float, seed: int, chunk_users: int = 20_000) -> int:
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    scifi = rng.random(n_movies) < 0.10
    horror = scifi & (rng.random(n_movies) < 0.25)
    other = np.array(["Drama", "Comedy", "Action", "Thriller", "Romance"])[rng.integers(0, 5, n_movies)]
    genres = np.where(scifi, np.where(horror, "Sci-Fi|Horror", "Sci-Fi|") + other, other)
    ids = np.arange(1, n_movies + 1)
    pd.DataFrame({"movieId": ids, "title": [f"Movie {i}" for i in ids], "genres": genres}).to_csv(
        out / "movies.csv", index=False
    )
    pd.DataFrame({"movieId": ids, "imdbId": 1_000_000 + ids, "tmdbId": ids}).to_csv(out / "links.csv", index=False)
    weight = 1.0 / (rng.permutation(n_movies) + 10.0) * np.where(scifi, 3.0, 1.0)
    cdf = np.cumsum(weight / weight.sum())
    d = 5
    Q = rng.normal(0, 0.3, (n_movies, d))
    bi = rng.normal(0, 0.4, n_movies)
    sigma = 0.9
    counts = np.maximum(20, np.round(rng.lognormal(np.log(mean_ratings) - sigma**2 / 2, sigma, n_users))).astype(int)
    path = out / "ratings.csv"
    path.write_text("userId,movieId,rating,timestamp\n")
    total = 0
    for start in range(0, n_users, chunk_users):
        c = counts[start : start + chunk_users]
        user = np.repeat(np.arange(start, start + c.size), c)
        movie = np.minimum(np.searchsorted(cdf, rng.random(user.size)), n_movies - 1)
        key = np.unique(user.astype(np.int64) * n_movies + movie)
        user, movie = key // n_movies, key % n_movies
        P = rng.normal(0, 0.3, (c.size, d))
        bu = rng.normal(0, 0.4, c.size)
        r = 3.5 + bu[user - start] + bi[movie] + np.einsum("nd,nd->n", P[user - start], Q[movie])
        r = np.clip(np.round(2 * (r + rng.normal(0, 0.8, r.size))) / 2, 0.5, 5.0)
        pd.DataFrame({"userId": user + 1, "movieId": movie + 1, "rating": r, "timestamp": 0}).to_csv(
            path, mode="a", header=False, index=False
        )
        total += r.size
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/tmp/synthetic-ml25m")
    ap.add_argument("--users", type=int, default=162_541)
    ap.add_argument("--movies", type=int, default=62_423)
    ap.add_argument("--mean-ratings", type=float, default=154.0, help="mean ratings per user before de-duplication")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    n = write(Path(args.out), args.users, args.movies, args.mean_ratings, args.seed)
    print(f"wrote {n:,} ratings of {args.users:,} users × {args.movies:,} movies to {args.out} "
          f"in {time.perf_counter() - t0:.0f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
