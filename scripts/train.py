"""Train one echo-lstm run, or a sweep with -m. Usage: python scripts/train.py [overrides]."""

from __future__ import annotations

import logging

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from echo_lstm.config import check_config
from echo_lstm.resume import resume_config
from echo_lstm.sweep import guard_run

log = logging.getLogger("echo_lstm")


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
@guard_run  # a config error exits 2 with one line; in a sweep, a failed run is recorded and the others go on
def main(cfg: DictConfig) -> float | None:
    cfg = resume_config(cfg, HydraConfig.get().overrides.task)
    check_config(cfg)

    # Imported here so that --help and config errors are reported before torch loads.
    from echo_lstm.train import train

    metrics = train(cfg)
    print(
        f"test/acc={metrics['test/acc']:.4f} test/loss={metrics['test/loss']:.4f} "
        f"val/acc={metrics['val/acc']:.4f} epochs={metrics['epochs']} "
        f"fit_seconds={metrics['fit_seconds']:.1f} run={cfg.output_dir}"
    )
    return metrics.get(cfg.optimized_metric)


if __name__ == "__main__":
    main()
