"""groundlm: teach vision-language models spatial skills and measure them."""

__version__ = "0.1.0"
