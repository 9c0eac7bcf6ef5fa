"""Starts local-bigquery 0.4.0 (scripts/bigquery-venv.sh) offline on loopback for the tests.

Three bridges, as docs/warehouses.md describes: every DuckDB connection loads extensions from the
duckdb-ext-* wheels instead of downloading them; a DuckLake table whose estimated size is NULL
reports its row count (else tables.insert and CTAS fail); DuckDB 1.4.4's relation method
`fetch_arrow_reader` answers to the name the emulator calls.

usage: serve.py PORT GRPC_PORT DATA_DIR
"""

import pathlib
import sys

import duckdb
import duckdb_ext

EXTENSIONS = pathlib.Path(duckdb_ext.__path__[0]) / "extensions"
_connect = duckdb.connect


def connect(database=":memory:", read_only=False, config=None, **kwargs):
    config = dict(config or {})
    config.setdefault("extension_directory", str(EXTENSIONS))
    config.setdefault("autoinstall_known_extensions", False)
    return _connect(database, read_only=read_only, config=config, **kwargs)


duckdb.connect = connect
if not hasattr(duckdb.DuckDBPyRelation, "to_arrow_reader"):
    duckdb.DuckDBPyRelation.to_arrow_reader = duckdb.DuckDBPyRelation.fetch_arrow_reader

from local_bigquery import cli  # noqa: E402  (after the bridges)
from local_bigquery.engine import database  # noqa: E402

_objects = database.objects


def objects(project_id, dataset_id, table_id=None):
    rows = []
    for name, kind, size in _objects(project_id, dataset_id, table_id):
        if size is None:
            (size,) = database.fetch(
                f"SELECT count(*) FROM {database.quote(project_id, dataset_id, name)}"
            )[0]
        rows.append((name, kind, size))
    return rows


database.objects = objects

if __name__ == "__main__":
    port, grpc_port, data_dir = sys.argv[1:4]
    cli.main(["serve", "--host", "127.0.0.1", "--port", port, "--grpc-port", grpc_port,
              "--data-dir", data_dir, "--project", "local"])
