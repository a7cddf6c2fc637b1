"""FFT long convolution."""

from .reference import fft_conv_ref

__all__ = ["fft_conv_ref"]
