#!/usr/bin/python3
"""Writes ddpm_schedules.h: DDPM schedule tables computed with numpy in float64,
the reference tests/test_diffusion.cpp checks diffusion/schedule.cpp against.

Formulas as cs231n.md section 3 and FORMAT.md row ddpm_q_sample give them
(lucidrains' denoising-diffusion-pytorch). Run once with /usr/bin/python3; the
header is committed so that the tests never need Python.
"""
from pathlib import Path

import numpy as np

CASES = [("linear", 1000), ("cosine", 1000), ("sigmoid", 100), ("linear", 50), ("cosine", 7)]
TABLES = ["betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_recip_alphas_cumprod",
          "sqrt_recipm1_alphas_cumprod", "posterior_mean_coef1", "posterior_mean_coef2", "posterior_std", "snr"]


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def betas(schedule, steps):
    if schedule == "linear":
        scale = 1000 / steps
        return np.linspace(1e-4 * scale, 0.02 * scale, steps, dtype=np.float64)
    u = np.linspace(0, 1, steps + 1, dtype=np.float64)
    if schedule == "cosine":
        abar = np.cos((u + 0.008) / 1.008 * np.pi / 2) ** 2
    else:
        abar = (sigmoid(3.0) - sigmoid(u * 6 - 3)) / (sigmoid(3.0) - sigmoid(-3.0))
    abar = abar / abar[0]
    return np.clip(1 - abar[1:] / abar[:-1], 0, 0.999)


def tables(schedule, steps):
    beta = betas(schedule, steps)
    abar = np.cumprod(1 - beta)
    prev = np.append(1.0, abar[:-1])
    variance = beta * (1 - prev) / (1 - abar)
    return {
        "betas": beta,
        "alphas_cumprod": abar,
        "alphas_cumprod_prev": prev,
        "sqrt_recip_alphas_cumprod": np.sqrt(1 / abar),
        "sqrt_recipm1_alphas_cumprod": np.sqrt(1 / abar - 1),
        "posterior_mean_coef1": beta * np.sqrt(prev) / (1 - abar),
        "posterior_mean_coef2": (1 - prev) * np.sqrt(1 - beta) / (1 - abar),
        "posterior_std": np.sqrt(np.maximum(variance, 1e-20)),
        "snr": abar / (1 - abar),
    }


def main():
    lines = ["// Written by ddpm_schedules.py (numpy, float64); do not edit.", "#pragma once", "",
             "#include <cstdint>", "", "namespace cudl::test {", "",
             "struct ScheduleReference {", "  const char* schedule;", "  std::int64_t timesteps;",
             "  std::int64_t at[5];  // the timesteps sampled", "  const char* table;", "  double values[5];", "};",
             "", "inline constexpr ScheduleReference kScheduleReference[] = {"]
    for schedule, steps in CASES:
        at = sorted({0, 1, steps // 2, steps - 2, steps - 1})
        while len(at) < 5:
            at.append(at[-1])
        t = tables(schedule, steps)
        for name in TABLES:
            values = ", ".join(repr(float(t[name][i])) for i in at)
            lines.append(f'    {{"{schedule}", {steps}, {{{", ".join(map(str, at))}}}, "{name}", {{{values}}}}},')
    lines += ["};", "", "}  // namespace cudl::test", ""]
    Path(__file__).with_name("ddpm_schedules.h").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
