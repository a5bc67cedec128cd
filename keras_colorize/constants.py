"""Domain constants, each defined once with its source.

Colour science follows IEC 61966-2-1 (sRGB) and CIE 1976 L*a*b* under D65,
with the same matrix and white point as ``skimage.color`` so that it can serve
as an independent test oracle. Quantisation, soft-encoding, rebalancing and
decoding constants follow Zhang, Isola & Efros, "Colorful Image Colorization"
(ECCV 2016). Colourfulness follows Hasler & Suesstrunk (2003).
"""

import numpy as np

# --- sRGB <-> CIE XYZ (D65) -------------------------------------------------
# Linear sRGB -> XYZ, rows are X, Y, Z (skimage.color.xyz_from_rgb).
RGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
XYZ_TO_RGB = np.linalg.inv(RGB_TO_XYZ)
# Reference white of the CIE 1931 2-degree observer under D65.
D65_WHITE = np.array([0.95047, 1.0, 1.08883])
# sRGB transfer function: linear segment below this encoded value ...
SRGB_LINEAR_THRESHOLD = 0.04045
SRGB_LINEAR_SLOPE = 12.92
SRGB_GAMMA = 2.4
SRGB_OFFSET = 0.055

# --- CIE Lab ---------------------------------------------------------------
# f(t) = t^(1/3) above LAB_EPSILON, else the linear segment (skimage's values).
LAB_EPSILON = 0.008856
LAB_LINEAR_SLOPE = 7.787
LAB_LINEAR_OFFSET = 16.0 / 116.0

# --- Network normalisation -------------------------------------------------
# The networks see L/50 - 1 in [-1, 1] and predict ab/110, roughly in
# [-1, 1] for every sRGB colour (Zhang et al. 2016; pix2pix colorization mode).
L_HALF = 50.0
AB_SCALE = 110.0

# --- Gray images -----------------------------------------------------------
# An image with no pixel whose |a| or |b| exceeds this is "gray": dropped by
# data_prep and left out of the classification loss (Zhang et al. 2016).
GRAY_AB_THRESHOLD = 5.0

# --- ab quantisation (Zhang et al. 2016, section 3.1) ----------------------
# Grid of step 10 over ab; cell centres at multiples of 10 in [-110, 110].
AB_GRID_STEP = 10.0
AB_GRID_LIMIT = 110.0
AB_GRID_CENTRES = np.arange(-AB_GRID_LIMIT, AB_GRID_LIMIT + 1.0, AB_GRID_STEP)
AB_GRID_SIZE = AB_GRID_CENTRES.size  # 23 centres along each of a and b
# Zhang et al. report Q = 313 in-gamut cells on this grid.
ZHANG_NUM_BINS = 313
# Soft-encoding: k nearest bin centres, Gaussian weights with this sigma.
SOFT_ENCODE_NEIGHBOURS = 5
SOFT_ENCODE_SIGMA = 5.0
# Rebalancing: prior smoothed with this sigma, mixed with uniform by lambda.
PRIOR_SMOOTH_SIGMA = 5.0
REBALANCE_LAMBDA = 0.5
# Annealed-mean decoding temperature.
ANNEALED_MEAN_T = 0.38

# --- Colourfulness (Hasler & Suesstrunk 2003) ------------------------------
COLORFULNESS_MEAN_WEIGHT = 0.3

# --- Data ------------------------------------------------------------------
# The working size: the side of the square the network sees, in training (a
# run's train.image_size, the crops of --image-size) and in inference (the
# SavedModel's and .tflite's fixed input, colorize's --working-size). The
# paper trains on 128x128 crops; this is the default wherever none is recorded.
DEFAULT_WORKING_SIZE = 128
