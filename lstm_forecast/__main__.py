"""`python -m lstm_forecast` runs the command-line tool (also the entry point for torchrun)."""

from lstm_forecast.cli import main

if __name__ == "__main__":
    main()
