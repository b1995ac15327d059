"""Test support shared by unit_tests/, integration_tests/ and tools/: the emulator harness (and the fork server it
runs the connector from), Graph fakes, certificates, a fake clock, the no-secret assertion and readers of the build
files. No test module imports another; they all import from here."""
