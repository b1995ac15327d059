"""Test support shared by unit_tests/, integration_tests/ and tools/: the emulator harness, Graph fakes, certificates,
a fake clock and the no-secret assertion. No test module imports another; they all import from here."""
