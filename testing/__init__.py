"""Test support shared by unit_tests/, integration_tests/ and tools/: the emulator harness (harness.py, which
re-exports emulated_tenant.py, connector_process.py and truth.py, and the fork server forked.py it runs the
connector from), Graph fakes, certificates, the clocks tests own, the no-secret assertion and readers of the build
files. No test module imports another; they all import from here."""
