"""Judging colorizers: metrics (PSNR, SSIM, AuC, colourfulness), the photos to
judge on (sources), model comparison and its report and figures, the hint
sweep against Levin et al., and the blind human-rating kit. Used by
``python -m keras_colorize.evaluate``."""
