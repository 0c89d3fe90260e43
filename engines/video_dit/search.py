"""ASTRAEA's evolutionary search over per-step token budgets.

A genome is a schedule s [steps] with s_0 = 1 (the first step is always full), min_budget ≤ s_k ≤ 1 and mean s =
budget (the compute constraint; ``astraea.project`` puts any vector back on that set). The population starts from the
uniform schedule, front- and back-loaded ramps and mutants; each generation keeps the two best (elitism), and breeds
the rest by binary tournaments, uniform crossover and a mean-preserving mutation (zero-mean Gaussian noise of size
``mutation`` on the free steps, then the projection). Fitness is what the caller measures — here the mean PSNR
against the full-compute videos of the search seeds — memoised per schedule.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .astraea import project, uniform_schedule


def mutate(s: np.ndarray, budget: float, lo: float, size: float, rng: np.random.Generator) -> np.ndarray:
    z = rng.normal(0.0, size, len(s))
    z[0] = 0.0
    z[1:] -= z[1:].mean()
    return project(s + z, budget, lo)


def crossover(a: np.ndarray, b: np.ndarray, budget: float, lo: float, rng: np.random.Generator) -> np.ndarray:
    mask = rng.random(len(a)) < 0.5
    return project(np.where(mask, a, b), budget, lo)


def initial_population(steps: int, budget: float, lo: float, size: int, mutation: float, rng: np.random.Generator) -> list:
    pop = [uniform_schedule(budget, steps, lo)]
    ramp = np.linspace(1.0, -1.0, steps)
    for sign in (1.0, -1.0):
        if len(pop) < size:
            pop.append(project(budget + sign * 0.3 * ramp, budget, lo))
    while len(pop) < size:
        pop.append(mutate(pop[0], budget, lo, 2 * mutation, rng))
    return pop


def evolve(fitness: Callable[[np.ndarray], float], steps: int, budget: float, lo: float, population: int, generations: int,
           mutation: float, rng: np.random.Generator, on_generation: Callable[[int, list], None] | None = None) -> dict:
    """Run the EA; returns best schedule, its fitness, the uniform schedule's, and the fitness of every member per generation."""
    memo: dict[bytes, float] = {}

    def fit(s: np.ndarray) -> float:
        key = np.round(s, 6).tobytes()
        if key not in memo:
            memo[key] = float(fitness(s))
        return memo[key]

    pop = initial_population(steps, budget, lo, population, mutation, rng)
    history, best_per_gen = [], []
    for gen in range(generations + 1):
        scores = [fit(s) for s in pop]
        order = np.argsort(scores)[::-1]
        pop, scores = [pop[i] for i in order], [scores[i] for i in order]
        history.append(scores)
        best_per_gen.append(scores[0])
        if on_generation is not None:
            on_generation(gen, scores)
        if gen == generations:
            break
        children = pop[: min(2, len(pop))]
        while len(children) < population:
            i, j = (min(rng.integers(0, len(pop), 2)) for _ in range(2))  # binary tournaments (pop is sorted)
            child = crossover(pop[i], pop[j], budget, lo, rng) if i != j else pop[i].copy()
            children.append(mutate(child, budget, lo, mutation, rng))
        pop = children
    uniform = uniform_schedule(budget, steps, lo)
    return {"best": pop[0], "best_fitness": history[-1][0], "uniform": uniform, "uniform_fitness": fit(uniform),
            "history": history, "best_per_generation": best_per_gen, "evaluations": len(memo)}
