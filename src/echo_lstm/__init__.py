"""echo-lstm: config-driven experiments on what an LSTM can remember.

The package root imports nothing heavy, so config checks run before torch loads.
"""

__version__ = "0.1.0"
