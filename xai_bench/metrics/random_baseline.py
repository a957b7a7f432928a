"""The random-attribution baseline: chance level for every attribution metric.

Every report includes it so that a method's numbers can be read against chance: its
att_auroc averages 0.5 over prompts, its att_acc/att_f1 sit at what a random top-k
choice gives, and its stability and consistency show what no signal looks like.
"""

from __future__ import annotations

import numpy as np

__all__ = ["random_attributions", "RANDOM_METHOD"]

RANDOM_METHOD = "random"


def random_attributions(n: int, seed: int | np.random.Generator) -> np.ndarray:
    """n attributions drawn i.i.d. from the standard normal distribution N(0, 1).

    Continuous draws make ties (which the top-k rule would break by position)
    happen with probability 0, so the ranking is a uniformly random permutation.
    Deterministic for an integer ``seed``; pass a different seed per prompt (for example
    ``base_seed + prompt_index``: numpy hashes seeds, so neighbouring integers give
    independent streams) so that prompts do not share one ranking.

    Raises ValueError when n < 1.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n: expected an integer >= 1 (the number of words), got {n!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return rng.standard_normal(int(n))
