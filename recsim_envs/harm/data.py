"""Catalogues for the harm-exposure model: a seeded synthetic default and a MovieLens loader with biased MF.

A :class:`Catalogue` holds item embeddings v ∈ R^d, harm flags and the users' inherent profiles u0 ∈ R^d, with the
MF biases folded in (Chee et al. 2024, §6): u = [P_u, b_u, 1], v = [Q_v, 1, b_v], so ⟨u, v⟩ = P_u·Q_v + b_u + b_v
is the predicted rating and d = latent_dim + 2 (12 by default).

MovieLens (``ratings.csv``, ``movies.csv``, ``links.csv``, optional ``tags.csv``; ml-latest-small … ml-25m):
ratings are streamed in chunks and filtered to the genre on the fly, so ml-25m never sits in memory whole. Harm
labels, in order of preference:

1. ``parental_guide``: the Kaggle "IMDB parental guide" CSV, joined by IMDb id (``tconst`` = "tt" + the 7-digit
   ``imdbId`` of ``links.csv``); harmful iff any of sex/violence/profanity/drugs/intense is "Severe" (or its
   ``*_code`` column is 4).
2. ``labels``: a user-supplied CSV with columns ``movieId,harmful`` (0/1).
3. Otherwise the documented *tag/genre proxy* (the Kaggle file is not redistributable and not shipped): an item
   is harmful iff one of its MovieLens tags names what a parental guide flags (:data:`HARM_TAG_KEYWORDS`, matched
   as whole words, case-insensitive: violence, gore, torture, rape, nudity, sexual content, drug use, strong
   language, …) or it also carries the genre "Horror". Mood and setting words ("dark", "post-apocalyptic",
   "dystopia", "war", "tense", "psychological") are deliberately *not* keywords: they flagged family films such as
   WALL·E. The flagged ml-latest-small Sci-Fi items are listed in ``benchmarks/RESULTS.md`` so a reader can judge
   them: it is a proxy, not a rating.

Ratings are validated as they stream (each message names the file and column): ``userId`` and ``movieId`` must be
integers in [0, 2^31 − 1], ``rating`` a number in [0.5, 5] (the MovieLens star scale); among the rows kept for the
catalogue, a (userId, movieId) pair rated twice with *different* ratings is refused, identical repeats count once.

The biased MF (:func:`train_biased_mf`) is alternating least squares over the observed ratings only (sparse,
O(#ratings · d²) per sweep, stopped at a documented relative tolerance). Embeddings are cached on disk by a SHA-256
of the filtered ratings and every MF setting (labels do not enter MF) (``$RECSIM_CACHE_DIR`` or
``~/.cache/recsim_envs``), written atomically (temp file + ``os.replace``); an unreadable or inconsistent cache
file is detected, refitted and replaced. The in-process memo of :func:`get_catalogue` is keyed by every input
file's size and modification time, so editing ``ratings.csv`` (or a labels file) on disk gives a fresh catalogue.

A custom catalogue (:func:`make_catalogue`, or ``catalogue=`` of the env) takes user-supplied item embeddings,
harm flags and initial user profiles, as arrays or an ``.npz`` file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from recsim_envs.harm.linalg import ridge_cols, ridge_rows
from recsim_envs.utils.files import atomic_save_npz

if TYPE_CHECKING:
    import pandas as pd

#: what a parental guide flags (violence and gore, sexual content, drug use, strong language, frightening scenes);
#: whole words, case-insensitive. Mood/setting tags (dark, post-apocalyptic, dystopia, war, tense) are excluded.
HARM_TAG_KEYWORDS = (
    "violence", "violent", "graphic violence", "ultraviolence", "gore", "gory", "bloody", "blood", "splatter",
    "torture", "brutal", "brutality", "gruesome", "rape", "sexual violence", "nudity", "nude", "sex", "sexual",
    "sexual content", "sexuality", "drugs", "drug use", "drug abuse", "heroin", "cocaine", "profanity",
    "strong language", "swearing", "serial killer", "cannibalism", "suicide", "horror", "zombies", "zombie",
    "disturbing",
)  # fmt: skip
HARM_TAG_PATTERN = re.compile(
    r"\b(?:" + "|".join(re.escape(k).replace(r"\ ", r"[\s-]+") for k in HARM_TAG_KEYWORDS) + r")\b", re.IGNORECASE
)
RATING_RANGE = (0.5, 5.0)
ID_RANGE = (0, 2**31 - 1)
MF_VERSION = 3  # cache key: 2 = sparse ALS (tol 1e-7), 3 = sparse ALS, compiled row solves, tol 1e-4
PROXY_HARM_GENRES = ("Horror",)
PARENTAL_CATEGORIES = ("sex", "violence", "profanity", "drugs", "intense")
LATENT_DIM = 10


@dataclass
class Catalogue:
    """Items and users of one harm-exposure problem (all arrays float64 / bool)."""

    V: np.ndarray  # [n, d] item embeddings
    harmful: np.ndarray  # [n] bool
    U0: np.ndarray  # [m, d] inherent user profiles
    item_ids: np.ndarray  # [n] MovieLens movieId (or 0..n-1)
    user_ids: np.ndarray  # [m]
    titles: list[str] = field(default_factory=list)
    source: str = "synthetic"
    harm_source: str = "synthetic"
    info: dict = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return int(self.V.shape[0])

    @property
    def n_users(self) -> int:
        return int(self.U0.shape[0])

    @property
    def dim(self) -> int:
        return int(self.V.shape[1])


class _Unset:
    """Marks an env kwarg the caller did not pass (so the synthetic catalogue can refuse MovieLens-only ones)."""

    def __repr__(self) -> str:
        return "<unset>"

    def __reduce__(self):
        return "UNSET"


UNSET = _Unset()

CATALOGUE_KEYS = ("item_embeddings", "harmful", "user_profiles")


def make_catalogue(
    item_embeddings: npt.ArrayLike,
    harmful: npt.ArrayLike,
    user_profiles: npt.ArrayLike,
    titles: Iterable[Any] | None = None,
    source: str = "custom",
) -> Catalogue:
    """A catalogue from user-supplied arrays: ``item_embeddings`` [n, d], ``harmful`` [n] (bool or 0/1) and
    ``user_profiles`` [m, d] (the inherent profiles u0; ⟨u0, v⟩ is the log-score of item v). n, m, d are derived.
    ``ValueError`` on mismatched shapes, non-finite values or non-0/1 harm flags; at least 2 items, 1 user."""
    V = _real_matrix("item_embeddings", item_embeddings)
    U0 = _real_matrix("user_profiles", user_profiles)
    if V.shape[0] < 2:
        raise ValueError(f"item_embeddings must have at least 2 rows (items), got shape {V.shape}")
    if U0.shape[1] != V.shape[1]:
        raise ValueError(
            f"user_profiles must have the embedding dimension of item_embeddings (d={V.shape[1]}), got shape {U0.shape}"
        )
    h = np.asarray(harmful)
    if h.shape != (V.shape[0],):
        raise ValueError(f"harmful must have shape ({V.shape[0]},) (one flag per item), got shape {h.shape}")
    if h.dtype != bool:
        try:
            hf = h.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"harmful must hold booleans or 0/1, got {h[:5]!r}") from exc
        if not np.isin(hf, (0.0, 1.0)).all():
            raise ValueError(f"harmful must hold booleans or 0/1, got values {np.unique(hf)[:5].tolist()}")
        h = hf == 1.0
    names = [f"item {i}" for i in range(V.shape[0])] if titles is None else [str(t) for t in titles]
    if len(names) != V.shape[0]:
        raise ValueError(f"titles must have one entry per item ({V.shape[0]}), got {len(names)}")
    return Catalogue(
        V=V,
        harmful=h.astype(bool),
        U0=U0,
        item_ids=np.arange(V.shape[0]),
        user_ids=np.arange(U0.shape[0]),
        titles=names,
        source=source,
        harm_source=source,
    )


def _real_matrix(name: str, value) -> np.ndarray:
    try:
        a = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 2-D array of real numbers, got {type(value).__name__}") from exc
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{name} must be a non-empty 2-D array [rows, d], got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must contain only finite numbers ({int((~np.isfinite(a)).sum())} NaN/inf entries)")
    return a


def load_catalogue_file(path: str | os.PathLike) -> Catalogue:
    """A custom catalogue from an ``.npz`` holding ``item_embeddings``, ``harmful``, ``user_profiles`` (and
    optionally ``titles``)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"catalogue file not found: {path} (expected an .npz with keys {list(CATALOGUE_KEYS)})")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from exc
    missing = [k for k in CATALOGUE_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"{path}: missing array(s) {missing}; found {sorted(arrays)}")
    try:
        return make_catalogue(
            arrays["item_embeddings"],
            arrays["harmful"],
            arrays["user_profiles"],
            titles=arrays.get("titles"),
            source=str(path),
        )
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def as_catalogue(value: Catalogue | dict[str, Any] | str | os.PathLike) -> Catalogue:
    """``catalogue=`` of the env: a :class:`Catalogue`, a dict with :data:`CATALOGUE_KEYS` (optionally
    ``titles``) or the path of an ``.npz`` file holding them."""
    if isinstance(value, Catalogue):
        ok = make_catalogue(value.V, value.harmful, value.U0, value.titles or None, value.source)
        return replace(value, V=ok.V, harmful=ok.harmful, U0=ok.U0)
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(CATALOGUE_KEYS) - {"titles"})
        missing = [k for k in CATALOGUE_KEYS if k not in value]
        if unknown or missing:
            raise ValueError(
                f"catalogue dict needs keys {list(CATALOGUE_KEYS)} (and optionally 'titles'); "
                f"missing {missing}, unknown {unknown}"
            )
        return make_catalogue(
            value["item_embeddings"], value["harmful"], value["user_profiles"], titles=value.get("titles")
        )
    if isinstance(value, (str, os.PathLike)):
        return load_catalogue_file(value)
    raise ValueError(
        f"catalogue must be a Catalogue, a dict with keys {list(CATALOGUE_KEYS)} or an .npz path, got "
        f"{type(value).__name__} {value!r:.60}"
    )


def fold_biases(P: np.ndarray, bu: np.ndarray, Q: np.ndarray, bi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """u = [P, b_u, 1], v = [Q, 1, b_i] so that ⟨u, v⟩ = P·Q + b_u + b_i."""
    U = np.concatenate([P, bu[:, None], np.ones((P.shape[0], 1))], axis=1)
    V = np.concatenate([Q, np.ones((Q.shape[0], 1)), bi[:, None]], axis=1)
    return U.astype(np.float64), V.astype(np.float64)


def synthetic_catalogue(
    n_items: int = 100, n_users: int = 100, seed: int = 0, harmful_fraction: float = 0.2
) -> Catalogue:
    """Seeded synthetic stand-in for an MF fit on one MovieLens genre (same shapes, d = 12).

    Predicted ratings ⟨u, v⟩ = P·Q + b_u + b_i spread like a real fit (mean ≈ 3.4, std ≈ 0.55, so scores
    e^{⟨u,v⟩} span ≈ 10–100 and c ∈ [1, 100] moves pCLK through its range). Harmful items share a latent
    direction h (Q_v += 0.8 h) and users differ in their taste along h, so attraction toward harmful items
    raises their organic share σ_H — the feedback loop the paper studies.
    """
    rng = np.random.default_rng(seed)
    h = rng.normal(size=LATENT_DIM)
    h /= np.linalg.norm(h)
    Q = rng.normal(0.0, 0.35, (n_items, LATENT_DIM))
    harmful = np.zeros(n_items, dtype=bool)
    harmful[rng.permutation(n_items)[: int(round(harmful_fraction * n_items))]] = True
    Q[harmful] += 0.8 * h
    P = rng.normal(0.0, 0.35, (n_users, LATENT_DIM)) + rng.normal(0.0, 0.5, (n_users, 1)) * h
    bi = rng.normal(0.0, 0.25, n_items) + 0.15 * harmful
    bu = rng.normal(3.3, 0.25, n_users)
    U0, V = fold_biases(P, bu, Q, bi)
    return Catalogue(
        V=V,
        harmful=harmful,
        U0=U0,
        item_ids=np.arange(n_items),
        user_ids=np.arange(n_users),
        titles=[f"item {i}" for i in range(n_items)],
        source=f"synthetic(seed={seed})",
        harm_source="synthetic",
    )


# --------------------------------------------------------------------------------------------------------------
# MovieLens
# --------------------------------------------------------------------------------------------------------------


def _require(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"MovieLens file not found: {path}")
    return path


def _read_csv(path: Path, columns: list[str], **kw):
    import pandas as pd

    try:
        df = pd.read_csv(path, **kw)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except pd.errors.EmptyDataError as exc:
        raise ValueError(f"{path}: empty file") from exc
    except ValueError as exc:
        raise ValueError(f"{path}: could not parse ({exc})") from exc
    return _check_columns(df, path, columns)


def _id_column(values, path, column: str) -> np.ndarray:
    """A column of integer ids → int64, or ``ValueError`` naming file, column, the bad value and the range."""
    import pandas as pd

    values = np.asarray(values)
    lo, hi = ID_RANGE
    if np.issubdtype(values.dtype, np.integer):  # the common case: parsed as integers, only the range to check
        bad = (values < lo) | (values > hi)
        if bad.any():
            first = _plain(values[np.flatnonzero(bad)[0]])
            raise ValueError(f"{path}: column {column!r} must hold integers in [{lo}, {hi}], got {first!r}")
        return values.astype(np.int64)
    x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(x) | (x != np.floor(x)) | (x < lo) | (x > hi)
    if bad.any():
        first = _plain(np.asarray(values)[np.flatnonzero(bad)[0]])
        raise ValueError(
            f"{path}: column {column!r} must hold integers in [{lo}, {hi}], got {first!r} ({int(bad.sum())} bad rows)"
        )
    return x.astype(np.int64)


def _plain(x):
    return x.item() if isinstance(x, np.generic) else x


def _rating_column(values, path) -> np.ndarray:
    import pandas as pd

    x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64)
    lo, hi = RATING_RANGE
    bad = ~np.isfinite(x) | (x < lo) | (x > hi)
    if bad.any():
        first = _plain(np.asarray(values)[np.flatnonzero(bad)[0]])
        raise ValueError(
            f"{path}: column 'rating' must hold numbers in [{lo}, {hi}] (MovieLens stars), got {first!r} "
            f"({int(bad.sum())} bad rows)"
        )
    return x


def _check_columns(df, path, columns):
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(df.columns)}")
    return df


def read_movies(directory: Path, genre: str | None) -> pd.DataFrame:
    path = _require(directory / "movies.csv")
    movies = _read_csv(path, ["movieId", "title", "genres"])
    movies["movieId"] = _id_column(movies["movieId"].to_numpy(), path, "movieId")
    if genre is not None:
        has = movies["genres"].fillna("").str.split("|").apply(lambda gs: genre in gs)
        movies = movies[has]
        if movies.empty:
            raise ValueError(f"{directory / 'movies.csv'}: no movie has genre {genre!r}")
    return movies


def read_ratings(
    path: Path, movie_ids: np.ndarray, chunksize: int = 2_000_000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stream ``ratings.csv`` in chunks, keeping only rows whose movieId is in ``movie_ids``."""
    import pandas as pd

    _require(path)
    keep = np.asarray(movie_ids, dtype=np.int64)
    parts = []
    cols = ("userId", "movieId", "rating")
    try:
        # pandas parses ids as int64 when every value is an integer literal that fits; otherwise float or text,
        # which _id_column checks (fractions, overflow, non-numbers) and refuses
        reader = pd.read_csv(path, usecols=lambda c: c in cols, chunksize=chunksize)
        for chunk in reader:
            _check_columns(chunk, path, list(cols))
            mid = _id_column(chunk["movieId"].to_numpy(), path, "movieId")
            uid = _id_column(chunk["userId"].to_numpy(), path, "userId")
            rating = _rating_column(chunk["rating"].to_numpy(), path)
            sel = np.isin(mid, keep)
            parts.append((uid[sel], mid[sel], rating[sel]))
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except pd.errors.EmptyDataError as exc:
        raise ValueError(f"{path}: empty file") from exc
    except pd.errors.ParserError as exc:
        raise ValueError(f"{path}: could not parse ({exc})") from exc
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    uid, mid, rating = (np.concatenate(c) for c in zip(*parts))
    return _dedupe_ratings(path, uid, mid, rating)


def _dedupe_ratings(path, uid, mid, rating):
    """Identical repeats of a (userId, movieId) rating count once; different ratings of one pair are refused."""
    key = uid * np.int64(2**31) + mid
    order = np.argsort(key, kind="stable")
    ks, rs = key[order], rating[order]
    same = ks[1:] == ks[:-1]
    if not same.any():
        return uid, mid, rating
    clash = same & (rs[1:] != rs[:-1])
    if clash.any():
        j = np.flatnonzero(clash)[0]
        u, m = divmod(int(ks[j]), 2**31)
        raise ValueError(
            f"{path}: userId {u} rated movieId {m} more than once with different ratings ({rs[j]} and {rs[j + 1]}; "
            f"{int(clash.sum())} conflicting pairs): keep one rating per (userId, movieId)"
        )
    first = np.ones(ks.size, dtype=bool)
    first[1:] = ~same
    keep = np.sort(order[first])
    return uid[keep], mid[keep], rating[keep]


def parental_guide_labels(directory: Path, path: Path, movie_ids: np.ndarray) -> np.ndarray:
    """Harmful iff any parental-guide category is Severe (text) or its ``*_code`` is 4; joined by IMDb id."""
    import pandas as pd

    links = _read_csv(_require(directory / "links.csv"), ["movieId", "imdbId"])
    guide = _read_csv(_require(path), ["tconst"])
    text_cols = [c for c in PARENTAL_CATEGORIES if c in guide.columns]
    code_cols = [f"{c}_code" for c in PARENTAL_CATEGORIES if f"{c}_code" in guide.columns]
    if not text_cols and not code_cols:
        raise ValueError(f"{path}: needs columns {list(PARENTAL_CATEGORIES)} or their *_code versions")
    severe = np.zeros(len(guide), dtype=bool)
    for col in text_cols:
        severe |= guide[col].astype(str).str.strip().str.lower().eq("severe").to_numpy()
    for col in code_cols:
        severe |= pd.to_numeric(guide[col], errors="coerce").eq(4).to_numpy()
    severe_by_tconst = pd.Series(severe, index=guide["tconst"].astype(str).to_numpy())
    severe_by_tconst = severe_by_tconst.groupby(level=0).any()
    links_path = directory / "links.csv"
    imdb = pd.Series(
        pd.to_numeric(links["imdbId"], errors="coerce").to_numpy(),
        index=_id_column(links["movieId"].to_numpy(), links_path, "movieId"),
    )
    imdb = imdb[~imdb.index.duplicated()].reindex(np.asarray(movie_ids, dtype=np.int64))
    tconst = "tt" + imdb.fillna(-1).astype(np.int64).astype(str).str.zfill(7)
    return tconst.map(severe_by_tconst).eq(True).to_numpy(dtype=bool)


def user_labels(path: Path, movie_ids: np.ndarray) -> np.ndarray:
    """A CSV ``movieId,harmful`` (harmful ∈ {0, 1}); movies it does not list are benign."""
    import pandas as pd

    df = _read_csv(_require(path), ["movieId", "harmful"])
    h = pd.to_numeric(df["harmful"], errors="coerce")
    if h.isna().any() or not h.isin([0, 1]).all():
        raise ValueError(f"{path}: column 'harmful' must be 0 or 1, got {df['harmful'][~h.isin([0, 1])].iloc[0]!r}")
    lab = pd.Series(h.astype(bool).to_numpy(), index=_id_column(df["movieId"].to_numpy(), path, "movieId"))
    lab = lab.groupby(level=0).any()
    return lab.reindex(np.asarray(movie_ids, dtype=np.int64)).eq(True).to_numpy(dtype=bool)


def tag_proxy_labels(directory: Path, movies: pd.DataFrame, movie_ids: np.ndarray) -> np.ndarray:
    """The documented proxy: a content keyword in the movie's tags, or the co-genre Horror."""
    tags_path = directory / "tags.csv"
    tagged: set[int] = set()
    if tags_path.exists():
        tags = _read_csv(tags_path, ["movieId", "tag"])
        tags = tags[np.isin(_id_column(tags["movieId"].to_numpy(), tags_path, "movieId"), movie_ids)]
        hit = tags["tag"].astype(str).str.contains(HARM_TAG_PATTERN)
        tagged = set(tags.loc[hit, "movieId"].astype(np.int64))
    genres = dict(zip(movies["movieId"].astype(np.int64), movies["genres"].fillna("")))
    horror = np.array([any(g in genres.get(int(m), "").split("|") for g in PROXY_HARM_GENRES) for m in movie_ids])
    return np.array([int(m) in tagged for m in movie_ids]) | horror


def default_cache_dir() -> Path:
    return Path(os.environ.get("RECSIM_CACHE_DIR", Path.home() / ".cache" / "recsim_envs")) / "harm"


def train_biased_mf(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    n_users: int,
    n_items: int,
    latent_dim: int = LATENT_DIM,
    weight_decay: float = 0.05,
    max_sweeps: int = 200,
    tol: float = 1e-4,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Biased MF r̂ = μ + b_u + b_i + P_u·Q_i over the observed ratings only, by alternating least squares.

    Objective (N observed ratings, μ their mean, fixed)::

        mean_obs (r − r̂)² + wd · (‖P‖² / n_users + ‖Q‖² / n_items + ‖b_u‖² / n_users + ‖b_i‖² / n_items).

    Each half-sweep solves it exactly for one side: for user u, x_u = [P_u, b_u] is the ridge solution of
    r − μ − b_i ≈ x_u · [Q_i, 1] over u's ratings, with ridge λ_u = wd·N/n_users (items alike, λ_i = wd·N/n_items),
    so the objective never increases. Each side is one compiled pass over the ratings in user-major order
    (``recsim_envs.harm.linalg.ridge_rows`` for users, split over numba's threads, and ``ridge_cols`` for items:
    Gram matrices from packed y yᵀ, Cholesky solves, and the squared error after the solve from the normal
    equations), so a sweep is O(N·d²) time and O(N + (n_users + n_items)·d²) memory; no dense
    [users × items] array exists and no per-rating prediction is formed until the final RMSE. Stops when a sweep
    lowers the objective by less than ``tol`` (relative) or after ``max_sweeps``. ALS converges linearly and
    slowly here (each sweep removes a roughly constant share of the remaining gap), so ``tol`` sets the cost: the
    default 1e-4 stops after ≈ 50–65 sweeps on ml-latest-small Sci-Fi (100 × 100, 500 × 900), whose training RMSE
    is then within 1 % of the fully converged fit and of the earlier dense full-batch fit (benchmarks/RESULTS.md),
    and after ≈ 20–25 sweeps on 10,000-user problems. Seeded: P, Q start at N(0, 0.1²) from
    ``numpy.random.default_rng(seed)``.

    Returns P, b_u (μ folded in), Q, b_i and the training RMSE.
    """
    import scipy.sparse as sp

    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    r = np.asarray(ratings, dtype=np.float64)
    n = r.size
    if n == 0:
        raise ValueError("train_biased_mf needs at least one rating")
    mu = float(r.mean())
    rng = np.random.default_rng(seed)
    P = 0.1 * rng.standard_normal((n_users, latent_dim))
    Q = 0.1 * rng.standard_normal((n_items, latent_dim))
    bu = np.zeros(n_users)
    bi = np.zeros(n_items)
    lam_u = weight_decay * n / n_users
    lam_i = weight_decay * n / n_items
    # the ratings in user-major order (CSR by user, items sorted within a user): the CSR carries each rating's
    # index (1-based) as data, so its data array says which rating sits at each stored position (no duplicates:
    # the loader removed them). Both half-sweeps read this one layout sequentially.
    by_user = sp.csr_matrix((np.arange(1.0, n + 1.0), (users, items)), shape=(n_users, n_items))
    by_user.sort_indices()
    order = by_user.data.astype(np.int64) - 1
    t_base = (r - mu)[order]
    item_at, user_at = by_user.indices.astype(np.int64), np.repeat(np.arange(n_users), np.diff(by_user.indptr))
    indptr = by_user.indptr.astype(np.int64)
    del by_user, order

    def augmented(factors: np.ndarray) -> np.ndarray:
        return np.concatenate([factors, np.ones((factors.shape[0], 1))], axis=1)  # [n, d+1]: factor and bias

    def reg() -> float:
        out = weight_decay * ((P**2).sum() / n_users + (Q**2).sum() / n_items)
        return out + weight_decay * ((bu**2).sum() / n_users + (bi**2).sum() / n_items)

    prev = np.inf
    for _ in range(max_sweeps):
        # users: one ridge regression per CSR row (parallel over rows); items: per CSR column, accumulated in one
        # pass over the rows in order (``ridge_cols``), so the large user-factor matrix is streamed, not gathered
        x, _ = ridge_rows(indptr, item_at, t_base - bi[item_at], augmented(Q), lam_u)
        P, bu = x[:, :-1].copy(), x[:, -1].copy()
        x, sse = ridge_cols(indptr, item_at, t_base - bu[user_at], augmented(P), lam_i, n_items)
        Q, bi = x[:, :-1].copy(), x[:, -1].copy()
        obj = sse / n + reg()
        if prev - obj <= tol * abs(obj):
            break
        prev = obj
    pred = mu + bu[users] + bi[items] + np.einsum("nd,nd->n", P[users], Q[items])
    sse = float(((r - pred) ** 2).sum())  # the reported RMSE from the predictions themselves
    rmse = float(np.sqrt(sse / n))
    return P, bu + mu, Q, bi, rmse


def _load_mf_cache(path: Path, n_users: int, n_items: int, latent_dim: int):
    """The cached fit, or None when the file is missing, unreadable or inconsistent (then it is refitted)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            P, bu, Q, bi, rmse = z["P"], z["bu"], z["Q"], z["bi"], float(z["rmse"])
        shapes_ok = (
            P.shape == (n_users, latent_dim)
            and Q.shape == (n_items, latent_dim)
            and bu.shape == (n_users,)
            and bi.shape == (n_items,)
        )
        if not shapes_ok or not all(np.isfinite(a).all() for a in (P, bu, Q, bi, rmse)):
            raise ValueError("wrong shapes or non-finite values")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        msg = f"MF cache {path} is unreadable or inconsistent ({exc}); refitting and replacing it"
        warnings.warn(msg, stacklevel=3)
        return None
    return P, bu, Q, bi, rmse


def load_movielens(
    directory: str | os.PathLike,
    genre: str | None = "Sci-Fi",
    n_items: int = 100,
    n_users: int = 100,
    parental_guide: str | None = None,
    labels: str | None = None,
    latent_dim: int = LATENT_DIM,
    mf_seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
) -> Catalogue:
    """Catalogue from a MovieLens directory: genre filter → top-``n_items`` items by #ratings → top-``n_users``
    users by #ratings on them → biased MF (cached) → folded embeddings; harm labels as in the module docstring."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"MovieLens directory not found: {directory}")
    movies = read_movies(directory, genre)
    uid, mid, rating = read_ratings(directory / "ratings.csv", movies["movieId"].to_numpy(np.int64))
    if len(mid) == 0:
        raise ValueError(f"{directory / 'ratings.csv'}: no rating left after filtering to genre {genre!r}")
    items, counts = np.unique(mid, return_counts=True)
    order = np.lexsort((items, -counts))  # most rated first, ties by movieId
    top_items = items[order[:n_items]]
    if len(top_items) < n_items:
        raise ValueError(f"genre {genre!r} has only {len(top_items)} rated movies, n_items={n_items} requested")
    sel = np.isin(mid, top_items)
    uid, mid, rating = uid[sel], mid[sel], rating[sel]
    users, ucounts = np.unique(uid, return_counts=True)
    uorder = np.lexsort((users, -ucounts))
    top_users = users[uorder[:n_users]]
    if len(top_users) < n_users:
        raise ValueError(f"only {len(top_users)} users rated the selected movies, n_users={n_users} requested")
    sel = np.isin(uid, top_users)
    uid, mid, rating = uid[sel], mid[sel], rating[sel]
    usorter = np.argsort(top_users)  # user index = activity rank
    u_idx = usorter[np.searchsorted(top_users, uid, sorter=usorter)]
    sorter = np.argsort(top_items)  # item index = popularity rank
    i_idx = sorter[np.searchsorted(top_items, mid, sorter=sorter)]

    if parental_guide is not None:
        harmful = parental_guide_labels(directory, Path(parental_guide), top_items)
        harm_source = f"parental_guide:{Path(parental_guide).name}"
    elif labels is not None:
        harmful = user_labels(Path(labels), top_items)
        harm_source = f"labels:{Path(labels).name}"
    else:
        harmful = tag_proxy_labels(directory, movies, top_items)
        harm_source = "tag_genre_proxy"

    settings = dict(genre=genre, n_items=n_items, n_users=n_users, latent_dim=latent_dim, mf_seed=mf_seed, v=MF_VERSION)
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for arr in (u_idx, i_idx, rating, top_items, top_users):
        h.update(np.ascontiguousarray(arr).tobytes())
    key = h.hexdigest()[:20]
    path = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = path / f"mf-{key}.npz"
    cached = _load_mf_cache(path, n_users, n_items, latent_dim)
    if cached is not None:
        P, bu, Q, bi, rmse = cached
    else:
        P, bu, Q, bi, rmse = train_biased_mf(u_idx, i_idx, rating, n_users, n_items, latent_dim, seed=mf_seed)
        atomic_save_npz(path, P=P, bu=bu, Q=Q, bi=bi, rmse=np.array(rmse))
    U0, V = fold_biases(P, bu, Q, bi)
    titles = dict(zip(movies["movieId"].astype(np.int64), movies["title"].astype(str)))
    return Catalogue(
        V=V,
        harmful=harmful,
        U0=U0,
        item_ids=top_items,
        user_ids=top_users,
        titles=[titles.get(int(m), str(m)) for m in top_items],
        source=str(directory),
        harm_source=harm_source,
        info=dict(n_ratings=int(len(rating)), mf_rmse=rmse, cache=str(path)),
    )


@lru_cache(maxsize=16)
def _cached_catalogue(
    dataset: str, genre, n_items, n_users, parental_guide, labels, catalogue_seed, stamp
) -> Catalogue:
    if dataset == "synthetic":
        return synthetic_catalogue(n_items, n_users, catalogue_seed)
    return load_movielens(dataset, genre, n_items, n_users, parental_guide, labels)


def _file_stamp(dataset: str, parental_guide, labels) -> tuple:
    """(path, size, mtime_ns) of every file a MovieLens catalogue reads: part of the memo key."""
    if dataset == "synthetic":
        return ()
    d = Path(dataset)
    paths = [d / f for f in ("movies.csv", "ratings.csv", "links.csv", "tags.csv")]
    paths += [Path(p) for p in (parental_guide, labels) if p is not None]
    out: list[tuple[str, int | None, int | None]] = []
    for p in paths:
        try:
            st = p.stat()
            out.append((str(p), st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((str(p), None, None))
    return tuple(out)


def get_catalogue(
    dataset: str = "synthetic",
    genre: str | None = "Sci-Fi",
    n_items: int = 100,
    n_users: int = 100,
    parental_guide: str | None = None,
    labels: str | None = None,
    catalogue_seed: int = 0,
) -> Catalogue:
    """Catalogue for env kwargs, memoised in-process (constructing many envs re-uses one load); the memo key
    includes the size and modification time of every input file, so a changed file is re-read."""
    dataset = str(dataset)
    stamp = _file_stamp(dataset, parental_guide, labels)
    return _cached_catalogue(dataset, genre, n_items, n_users, parental_guide, labels, catalogue_seed, stamp)
