"""How well the noiseless GPs' predicted uncertainty matches their errors early in a study.

    python -m benchmarks.gp_calibration [--problems dtlz2-2d c2dtlz2 vehiclesafety branincurrin]
                                        [--observations 14 30] [--seeds 10] [--prior botorch gamma]

For each problem, seed and number of observations, a noiseless ``"ehvi"`` study evaluates that many
points of its Sobol initial design; the GPs moo_hpo fits to them (every objective and hard
constraint) then predict 500 uniformly random new points, and ``z = (measured - mean) / std`` is
recorded. A calibrated Gaussian prediction misses by more than 3 standard deviations at 0.27% of
the points and has a median ``|z|`` of 0.67. ``botorch`` is moo_hpo's kernel (BoTorch's default: RBF,
dimension-scaled log-normal lengthscale prior); ``gamma`` the same kernel with a Gamma(3, 6)
lengthscale prior, BoTorch's earlier default (docs/lab/2026-12-04-bayesian-experiments.md).
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import numpy as np


@contextmanager
def _gamma_prior() -> Iterator[None]:
    """Noiseless GPs whose RBF kernel has a Gamma(3, 6) lengthscale prior instead of BoTorch's default."""
    import botorch.models.gp_regression as regression
    from gpytorch.kernels import RBFKernel
    from gpytorch.priors import GammaPrior

    original = regression.get_covar_module_with_dim_scaled_prior

    def gamma_kernel(ard_num_dims: int, batch_shape: object = None, **_: object) -> object:
        return RBFKernel(ard_num_dims=ard_num_dims, batch_shape=batch_shape, lengthscale_prior=GammaPrior(3.0, 6.0))

    regression.get_covar_module_with_dim_scaled_prior = gamma_kernel  # the name SingleTaskGP calls
    try:
        yield
    finally:
        regression.get_covar_module_with_dim_scaled_prior = original


def z_scores(problem_name: str, observations: int, seed: int, points: int = 500) -> np.ndarray:
    """``|measured - mean| / std`` of every modelled outcome at ``points`` uniformly random new points."""
    import torch

    from benchmarks.problems import get_problem
    from moo_hpo.optimizers.bayesian.data import bilog
    from moo_hpo.optimizers.bayesian.surrogate import noise_floor

    problem = get_problem(problem_name)
    study = problem.study("ehvi", {"noiseless": True, "n_init": observations}, seed)

    def evaluate(config: dict) -> dict[str, float]:
        F, G = problem.evaluate(problem.config_to_x(config))
        return problem.metrics(F[0], G[0])

    study.optimize(evaluate, n_trials=observations, show_progress=False)
    optimizer = study.optimizer
    data = optimizer.training_data()
    outcomes = data.objectives + data.constraints
    model = optimizer.surrogate.model(outcomes)
    lo, hi = problem.bounds
    x = lo + (hi - lo) * np.random.default_rng([seed, 7]).random((points, problem.dim))
    F, G = problem.evaluate(x)
    # the models' outcomes: negated objectives (BoTorch maximizes), then g (bilog-transformed where modelled so)
    G = np.column_stack([bilog(G[:, j]) if o.bilog else G[:, j] for j, o in enumerate(data.constraints)]) if G is not None and G.size else np.zeros((len(x), 0))
    targets = np.column_stack([-F, G])
    X = torch.as_tensor((x - lo) / (hi - lo), dtype=torch.double)  # the encoded unit cube
    with torch.no_grad(), noise_floor():
        posterior = model.posterior(X)
        mean, std = posterior.mean.numpy(), posterior.variance.clamp_min(1e-30).sqrt().numpy()
    return np.abs((targets - mean) / std).ravel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=["dtlz2-2d", "c2dtlz2", "vehiclesafety", "branincurrin"])
    parser.add_argument("--observations", nargs="+", type=int, default=[14, 30])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--prior", choices=["botorch", "gamma"], nargs="+", default=["botorch", "gamma"])
    args = parser.parse_args()
    import warnings

    warnings.filterwarnings("ignore")
    print("| problem | observations | prior | misses beyond 3 sd (median of seeds [min, max]) | median abs z |")
    print("|---|---:|---|---|---:|")
    for name in args.problems:
        for n in args.observations:
            for prior in args.prior:
                shares, medians = [], []
                for seed in range(args.seeds):
                    with _gamma_prior() if prior == "gamma" else nullcontext():
                        z = z_scores(name, n, seed)
                    shares.append(float((z > 3).mean()))
                    medians.append(float(np.median(z)))
                print(
                    f"| {name} | {n} | {prior} | {100 * statistics.median(shares):.1f}% "
                    f"[{100 * min(shares):.1f}, {100 * max(shares):.1f}] | {statistics.median(medians):.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
