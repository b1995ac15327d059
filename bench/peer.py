"""Run the peer manifest with the CDK's YamlDeclarativeSource: `python -m bench.peer MANIFEST read --config ...`.

The manifest path comes first so that the bench can hand in an unpaced copy for the CPU-bound run.
"""

import sys

from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource


def main() -> None:
    manifest, args = sys.argv[1], sys.argv[2:]
    catalog_path = AirbyteEntrypoint.extract_catalog(args)
    config_path = AirbyteEntrypoint.extract_config(args)
    source = YamlDeclarativeSource(
        manifest,
        catalog=YamlDeclarativeSource.read_catalog(catalog_path) if catalog_path else None,
        config=YamlDeclarativeSource.read_config(config_path) if config_path else None,
    )
    launch(source, args)


if __name__ == "__main__":
    main()
