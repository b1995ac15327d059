"""Root conftest: the CDK's standard acceptance-test hooks must be registered here, not in a nested conftest.

The tests talk to fakes and the emulator on hosts of their own, which a deployment must allow explicitly;
tests of the refusal remove the variable themselves.
"""

import os

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

os.environ["DYNAMICS365_CC_ALLOW_CUSTOM_ENDPOINTS"] = "1"
