"""`make bench`: throughput, CPU cost and memory of the connector against the bundled Graph emulator.

One invocation (`python -m bench.run`) runs every scenario and writes bench/RESULTS.md and bench/chart.png;
raw outputs (configs, stderr, the JSON of every measurement) go to bench/out/, which git ignores.
"""
