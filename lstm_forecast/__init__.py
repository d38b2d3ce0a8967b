"""lstm-forecast: LSTM forecasts of prices and numeric sequences, set beside naive baselines.

The package root stays import-light (no torch, no pandas) so that the CLI starts fast.
"""

__version__ = "0.1.0"
