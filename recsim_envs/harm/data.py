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
   is harmful iff one of its MovieLens tags matches a content keyword (:data:`HARM_TAG_PATTERN`: violence, gore,
   blood, brutal, torture, disturbing, drugs, nudity, sex, rape, zombies, horror, serial killer, …, whole words)
   or it also carries the genre "Horror". On ml-latest-small's top-100 Sci-Fi items this flags 15 % (e.g. Alien,
   The Terminator, 28 Days Later — and WALL·E, through a "post-apocalyptic" tag: it is a proxy, not a rating).

Embeddings are cached on disk by a SHA-256 of the filtered ratings and every MF setting (labels do not enter MF)
(``$RECSIM_CACHE_DIR`` or ``~/.cache/recsim_envs``), written atomically (temp file + ``os.replace``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

HARM_TAG_PATTERN = re.compile(
    r"\b(?:violen\w*|gore|gory|bloody|blood|brutal\w*|tortur\w*|disturbing|drugs?|drug use|nudity|nude|sex\w*|rape|"
    r"zombies?|horror|serial killer|murder\w*|gruesome|cannibal\w*|suicide|splatter|profanity|swearing|intense|tense|"
    r"scary|creepy|terrifying|suspense\w*|war|post[- ]apocalyptic|apocalypse|psychological|paranoi\w*|dark)\b",
    re.IGNORECASE,
)
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


def fold_biases(P, bu, Q, bi) -> tuple[np.ndarray, np.ndarray]:
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
    except ValueError as exc:
        raise ValueError(f"{path}: could not parse ({exc})") from exc
    return _check_columns(df, path, columns)


def _check_columns(df, path, columns):
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(df.columns)}")
    return df


def read_movies(directory: Path, genre: str | None):
    movies = _read_csv(_require(directory / "movies.csv"), ["movieId", "title", "genres"])
    if genre is not None:
        has = movies["genres"].fillna("").str.split("|").apply(lambda gs: genre in gs)
        movies = movies[has]
        if movies.empty:
            raise ValueError(f"{directory / 'movies.csv'}: no movie has genre {genre!r}")
    return movies


def read_ratings(path: Path, movie_ids: np.ndarray, chunksize: int = 2_000_000):
    """Stream ``ratings.csv`` in chunks, keeping only rows whose movieId is in ``movie_ids``."""
    import pandas as pd

    _require(path)
    keep = np.asarray(movie_ids, dtype=np.int64)
    parts = []
    try:
        reader = pd.read_csv(path, usecols=lambda c: c in ("userId", "movieId", "rating"), chunksize=chunksize)
        for chunk in reader:
            _check_columns(chunk, path, ["userId", "movieId", "rating"])
            rating = pd.to_numeric(chunk["rating"], errors="coerce")
            if rating.isna().any():
                bad = chunk.loc[rating.isna(), "rating"].iloc[0]
                raise ValueError(f"{path}: column 'rating' has a non-numeric value {bad!r}")
            uid = pd.to_numeric(chunk["userId"], errors="coerce")
            mid = pd.to_numeric(chunk["movieId"], errors="coerce")
            if uid.isna().any() or mid.isna().any():
                raise ValueError(f"{path}: columns 'userId'/'movieId' must be integers")
            sel = np.isin(mid.to_numpy(np.int64), keep)
            parts.append(
                np.stack([uid.to_numpy(np.float64)[sel], mid.to_numpy(np.float64)[sel], rating.to_numpy()[sel]], 1)
            )
    except pd.errors.EmptyDataError as exc:
        raise ValueError(f"{path}: empty file") from exc
    data = np.concatenate(parts) if parts else np.zeros((0, 3))
    return data[:, 0].astype(np.int64), data[:, 1].astype(np.int64), data[:, 2]


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
    imdb = pd.to_numeric(links.set_index("movieId")["imdbId"], errors="coerce")
    imdb = imdb[~imdb.index.duplicated()].reindex(np.asarray(movie_ids, dtype=np.int64))
    tconst = "tt" + imdb.fillna(-1).astype(np.int64).astype(str).str.zfill(7)
    return tconst.map(severe_by_tconst).eq(True).to_numpy(dtype=bool)


def user_labels(path: Path, movie_ids: np.ndarray) -> np.ndarray:
    """A CSV ``movieId,harmful`` (harmful ∈ {0, 1}); movies it does not list are benign."""
    import pandas as pd

    df = _read_csv(_require(path), ["movieId", "harmful"])
    h = pd.to_numeric(df["harmful"], errors="coerce")
    if h.isna().any() or not h.isin([0, 1]).all():
        raise ValueError(f"{path}: column 'harmful' must be 0 or 1")
    lab = pd.Series(h.astype(bool).to_numpy(), index=df["movieId"].astype(np.int64).to_numpy())
    lab = lab.groupby(level=0).any()
    return lab.reindex(np.asarray(movie_ids, dtype=np.int64)).eq(True).to_numpy(dtype=bool)


def tag_proxy_labels(directory: Path, movies, movie_ids: np.ndarray) -> np.ndarray:
    """The documented proxy: a content keyword in the movie's tags, or the co-genre Horror."""
    tags_path = directory / "tags.csv"
    tagged: set[int] = set()
    if tags_path.exists():
        tags = _read_csv(tags_path, ["movieId", "tag"])
        tags = tags[tags["movieId"].isin(movie_ids)]
        hit = tags["tag"].astype(str).str.contains(HARM_TAG_PATTERN)
        tagged = set(tags.loc[hit, "movieId"].astype(np.int64))
    genres = dict(zip(movies["movieId"].astype(np.int64), movies["genres"].fillna("")))
    horror = np.array([any(g in genres.get(int(m), "").split("|") for g in PROXY_HARM_GENRES) for m in movie_ids])
    return np.array([int(m) in tagged for m in movie_ids]) | horror


def default_cache_dir() -> Path:
    return Path(os.environ.get("RECSIM_CACHE_DIR", Path.home() / ".cache" / "recsim_envs")) / "harm"


def atomic_save_npz(path: Path, **arrays) -> None:
    """Write an .npz atomically (temp file in the same directory, then ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def train_biased_mf(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    n_users: int,
    n_items: int,
    latent_dim: int = LATENT_DIM,
    weight_decay: float = 0.05,
    epochs: int = 1500,
    lr: float = 0.05,
    seed: int = 0,
):
    """Biased MF r̂ = μ + b_u + b_i + P_u·Q_i by full-batch Adam on squared error + L2 (torch, CPU).

    Returns P, b_u (μ folded in), Q, b_i and the training RMSE. torch is imported here only.
    """
    try:
        import torch
    except ImportError as exc:  # torch is the optional [train] extra
        raise ImportError("MovieLens embeddings need torch (pip install 'recsim-envs[train]')") from exc
    g = torch.Generator().manual_seed(seed)
    # dense [users, items] matrix with an observation mask: no gathers, so an epoch is a few matmuls
    R = torch.zeros(n_users, n_items, dtype=torch.float64)
    M = torch.zeros(n_users, n_items, dtype=torch.float64)
    R[torch.as_tensor(users), torch.as_tensor(items)] = torch.as_tensor(ratings, dtype=torch.float64)
    M[torch.as_tensor(users), torch.as_tensor(items)] = 1.0
    n = float(M.sum())
    mu = float((R * M).sum() / n)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 100×100 problem: thread start-up costs more than it saves
    P = (0.1 * torch.randn(n_users, latent_dim, generator=g, dtype=torch.float64)).requires_grad_()
    Q = (0.1 * torch.randn(n_items, latent_dim, generator=g, dtype=torch.float64)).requires_grad_()
    bu = torch.zeros(n_users, dtype=torch.float64, requires_grad=True)
    bi = torch.zeros(n_items, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([P, Q, bu, bi], lr=lr)
    for _ in range(epochs):  # full-batch optimisation steps
        opt.zero_grad()
        pred = mu + bu[:, None] + bi[None, :] + P @ Q.T
        loss = (((pred - R) ** 2) * M).sum() / n + weight_decay * (
            (P**2).sum() / n_users + (Q**2).sum() / n_items + (bu**2).mean() + (bi**2).mean()
        )
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = mu + bu[:, None] + bi[None, :] + P @ Q.T
        rmse = float(torch.sqrt((((pred - R) ** 2) * M).sum() / n))
        out = (P.numpy().copy(), (bu + mu).numpy().copy(), Q.numpy().copy(), bi.numpy().copy(), rmse)
    torch.set_num_threads(threads)
    return out


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

    settings = dict(genre=genre, n_items=n_items, n_users=n_users, latent_dim=latent_dim, mf_seed=mf_seed, v=1)
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for arr in (u_idx, i_idx, rating, top_items, top_users):
        h.update(np.ascontiguousarray(arr).tobytes())
    key = h.hexdigest()[:20]
    path = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = path / f"mf-{key}.npz"
    if path.exists():
        z = np.load(path)
        P, bu, Q, bi, rmse = z["P"], z["bu"], z["Q"], z["bi"], float(z["rmse"])
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
def _cached_catalogue(dataset: str, genre, n_items, n_users, parental_guide, labels, catalogue_seed) -> Catalogue:
    if dataset == "synthetic":
        return synthetic_catalogue(n_items, n_users, catalogue_seed)
    return load_movielens(dataset, genre, n_items, n_users, parental_guide, labels)


def get_catalogue(
    dataset: str = "synthetic",
    genre: str | None = "Sci-Fi",
    n_items: int = 100,
    n_users: int = 100,
    parental_guide: str | None = None,
    labels: str | None = None,
    catalogue_seed: int = 0,
) -> Catalogue:
    """Catalogue for env kwargs, memoised in-process (constructing many envs re-uses one load)."""
    return _cached_catalogue(str(dataset), genre, n_items, n_users, parental_guide, labels, catalogue_seed)
