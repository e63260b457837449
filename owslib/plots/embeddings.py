"""Known-vs-unknown views of embedding samples (:mod:`owslib.evaluation.embeddings`): a PCA panel per
variant and the norm distributions the choice of the InfoNCE space rests on."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from owslib.models.outputs import SPACES


def embedding_pca(
    samples: Mapping[str, Mapping[str, np.ndarray] | None],
    space: str = "embedding",
    palette: np.ndarray | None = None,
    *,
    seed: int = 0,
) -> plt.Figure:
    """One panel per variant: the sample's L2-normalised ``space`` vectors on their first two
    principal components, known classes in their class colours, unknown classes as black crosses.
    A variant whose sample is None (no checkpoint to draw it from) gets a panel saying so."""
    n = max(len(samples), 1)
    fig, axes = plt.subplots(1, n, figsize=(3.3 * n + 1.6, 3.4), squeeze=False)
    handles = {}
    for ax, (name, s) in zip(axes[0], samples.items(), strict=False):
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if s is None:
            ax.text(
                0.5,
                0.5,
                "no sample\n(no checkpoint here)",
                ha="center",
                va="center",
                fontsize=8,
                transform=ax.transAxes,
            )
            continue
        xy, share = pca_2d(s[space])
        labels, k = s["label"], int(s["num_known"])
        names = [str(c) for c in s["class_names"]]
        for c in np.unique(labels):
            at = labels == c
            if c < k:
                colour = palette[c] / 255.0 if palette is not None else plt.cm.tab20(c % 20)
                h = ax.scatter(*xy[at].T, s=3, color=colour, alpha=0.6, linewidths=0)
                handles.setdefault(names[c], h)
            else:
                h = ax.scatter(*xy[at].T, s=9, marker="x", color="black", linewidths=0.6)
                handles.setdefault(f"{names[c]} (unknown)", h)
        ax.set_xlabel(f"PC1 ({share[0]:.0%})", fontsize=8)
        ax.set_ylabel(f"PC2 ({share[1]:.0%})", fontsize=8)
    fig.suptitle(f"PCA of L2-normalised {space} vectors (test pixels, seed {seed})", fontsize=10)
    if handles:
        fig.legend(
            list(handles.values()),
            list(handles),
            fontsize=6,
            markerscale=2.5,
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
            frameon=False,
        )
    fig.tight_layout()
    return fig


def norm_histograms(
    samples: Mapping[str, Mapping[str, np.ndarray] | None], min_norm: float
) -> plt.Figure:
    """Per space, the L2 norms of known and unknown vectors of every variant (log axis), with the
    ``min_norm`` below which the InfoNCE term skips a vector marked."""
    fig, axes = plt.subplots(1, len(SPACES), figsize=(9.5, 3.2), squeeze=False)
    for ax, space in zip(axes[0], SPACES, strict=True):
        for i, (name, s) in enumerate((n, s) for n, s in samples.items() if s is not None):
            norm = np.linalg.norm(s[space].astype(np.float64), axis=1)
            unknown = s["label"] >= int(s["num_known"])
            bins = np.logspace(np.log10(max(norm.min(), 1e-6)), np.log10(norm.max() + 1e-9), 40)
            colour = plt.cm.tab10(i % 10)
            ax.hist(norm[~unknown], bins=bins, histtype="step", color=colour, label=f"{name} known")
            ax.hist(
                norm[unknown],
                bins=bins,
                histtype="step",
                color=colour,
                ls="--",
                label=f"{name} unknown",
            )
        ax.axvline(min_norm, color="gray", lw=0.8, ls=":", label=f"skip below {min_norm:g}")
        ax.set(
            xscale="log",
            xlabel=f"L2 norm of the {space} vector",
            ylabel="pixels",
            title=f"{space} space",
        )
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(
        handles, labels, fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False
    )
    fig.tight_layout()
    return fig


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The L2-normalised ``vectors`` on their first two principal components (scikit-learn's
    exact PCA, centred) and the share of variance each explains."""
    from sklearn.decomposition import PCA

    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    pca = PCA(n_components=2, svd_solver="full").fit(v)
    return pca.transform(v), pca.explained_variance_ratio_
