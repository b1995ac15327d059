"""Run the connector as `python main.py spec|check|discover|read ...`."""

from source_dynamics365_cc.run import run

if __name__ == "__main__":
    run()
