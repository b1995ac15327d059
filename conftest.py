"""Root conftest: the CDK's standard acceptance-test hooks must be registered here, not in a nested conftest."""

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]
