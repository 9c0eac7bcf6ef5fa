"""A stand-in for the Databricks SQL Statement Execution API, for the tests: each statement runs
on Sail (pysail, a Spark Connect server with Delta, started here) through one long-lived Spark
session (Sail's catalog lives in the session). Answers as the API does: statement ids, states
PENDING/RUNNING/SUCCEEDED/FAILED, `manifest.schema.columns`, `result.data_array` in chunks of
CHUNK_ROWS rows linked by `next_chunk_internal_link`, errors in `status.error`. A submission
runs in the background: the answer comes when it ends or after its `wait_timeout`, whichever is
first, and a statement still running is polled. `POST .../cancel` cancels a statement that has
not started (one that has runs to its end, as Spark cannot stop it here). Bearer TOKEN only.

Test-only: `POST /test/load_events {"csv", "schema", "table"}` loads a Snowplow events CSV in
Databricks' layout (contexts as arrays of structs, unstruct events as structs, snake_case
fields, columns named by major version). `POST /test/slow {"contains", "seconds"}`: statements
whose text contains `contains` wait `seconds` before they start (a long statement, still
cancellable); `GET /test/cancelled`: the ids cancelled, and those that ran anyway.

usage: serve.py DIR TOKEN CHUNK_ROWS   (a stand-in as tests/standins/standin.py describes; Sail's
warehouse in DIR)
"""

import csv
import ctypes
import datetime
import decimal
import json
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pyspark.sql import Row, SparkSession

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import standin  # noqa: E402

WAREHOUSE, TOKEN, CHUNK_ROWS = sys.argv[1:4]
CHUNK_ROWS = int(CHUNK_ROWS)
SAIL_PORT = str(standin.free_port())
standin.exit_with_parent()


def die_with_this_process():
    # the tests stop this server with SIGKILL, which skips the `finally` below: Linux's
    # PR_SET_PDEATHSIG (1) stops Sail with it instead of leaving it running
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


sail = subprocess.Popen(
    [sys.executable.replace("python", "sail"), "spark", "server", "--ip", "127.0.0.1", "--port", SAIL_PORT],
    cwd=WAREHOUSE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_this_process)
for _ in range(100):
    try:
        spark = (SparkSession.builder.remote(f"sc://127.0.0.1:{SAIL_PORT}")
                 .config("spark.sql.warehouse.dir", WAREHOUSE + "/warehouse").getOrCreate())
        spark.sql("SELECT 1").collect()
        break
    except Exception:
        time.sleep(0.2)
lock = threading.Lock()
statements = {}
# test controls: statements made slow, and what cancellations did
slow = {"contains": None, "seconds": 0}
cancelled = {"ids": [], "ran": []}

QUERY = re.compile(r"^\s*(SELECT|WITH|SHOW|DESCRIBE)\b", re.I)


def text(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, (datetime.date, decimal.Decimal)):
        return str(value)
    if isinstance(value, Row):
        return json.dumps(value.asDict(recursive=True), default=str)
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=lambda v: v.asDict(recursive=True) if isinstance(v, Row) else str(v))
    return str(value)


def execute(statement_id, sql):
    entry = statements[statement_id]
    if slow["contains"] and slow["contains"] in sql:
        until = time.monotonic() + slow["seconds"]
        while time.monotonic() < until and not entry.get("cancelled"):
            time.sleep(0.1)
    if entry.get("cancelled"):
        entry.update(state="CANCELED")
        entry["done"].set()
        return
    if statement_id in cancelled["ids"]:
        cancelled["ran"].append(statement_id)
    try:
        with lock:
            frame = spark.sql(sql)
            if QUERY.match(sql):
                columns = frame.columns
                rows = [[text(v) for v in row] for row in frame.collect()]
            else:
                columns, rows = [], []
        entry.update(state="SUCCEEDED", columns=columns, rows=rows)
    except Exception as error:  # the statement's own failure, reported as the API does
        entry.update(state="FAILED", error={"error_code": "BAD_REQUEST", "message": str(error)[:2000]})
    entry["done"].set()


def chunk(statement_id, index):
    rows = statements[statement_id]["rows"]
    body = {"chunk_index": index, "row_offset": index * CHUNK_ROWS,
            "data_array": rows[index * CHUNK_ROWS:(index + 1) * CHUNK_ROWS]}
    if (index + 1) * CHUNK_ROWS < len(rows):
        body["next_chunk_internal_link"] = f"/api/2.0/sql/statements/{statement_id}/result/chunks/{index + 1}"
    return body


def answer(statement_id):
    entry = statements[statement_id]
    body = {"statement_id": statement_id, "status": {"state": entry["state"]}}
    if entry["state"] == "FAILED":
        body["status"]["error"] = entry["error"]
    if entry["state"] == "SUCCEEDED":
        body["manifest"] = {"format": "JSON_ARRAY", "schema": {"columns": [
            {"name": name, "position": i} for i, name in enumerate(entry["columns"])]},
            "total_row_count": len(entry["rows"])}
        body["result"] = chunk(statement_id, 0)
    return body


def load_events(path, schema, table):
    snake = lambda k: re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower()
    rows = list(csv.DictReader(open(path)))
    columns = list(rows[0].keys())
    json_columns = [c for c in columns if c.startswith(("contexts_", "unstruct_event_"))]
    fields = {c: {} for c in json_columns}
    for row in rows:
        for c in json_columns:
            if row[c]:
                value = json.loads(row[c])
                for item in value if isinstance(value, list) else [value]:
                    for key, x in item.items():
                        kind = "BOOLEAN" if isinstance(x, bool) else "DOUBLE" if isinstance(x, (int, float)) else "STRING"
                        fields[c].setdefault(snake(key), kind)

    def convert(c, v):
        if not v:
            return None
        value = json.loads(v)
        fix = lambda item: {snake(k): json.dumps(x) if isinstance(x, (dict, list)) else x for k, x in item.items()}
        return json.dumps([fix(i) for i in value] if isinstance(value, list) else fix(value))

    data = [tuple(convert(c, r[c]) if c in json_columns else (r[c] or None) for c in columns) for r in rows]
    select = []
    for c in columns:
        if c in json_columns:
            if not fields[c]:
                continue
            struct = "struct<" + ", ".join(f"`{k}`: {t}" for k, t in fields[c].items()) + ">"
            kind = f"array<{struct}>" if c.startswith("contexts_") else struct
            major = re.sub(r"_\d+_\d+$", "", c)
            select.append(f"from_json(`{c}`, '{kind}') AS `{major}`")
        elif c.endswith("tstamp"):
            select.append(f"CAST(`{c}` AS TIMESTAMP) AS `{c}`")
        else:
            select.append(f"`{c}`")
    with lock:
        frame = spark.createDataFrame(data, schema=", ".join(f"`{c}` STRING" for c in columns))
        frame.createOrReplaceTempView("raw_events")
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS `{schema}`")
        spark.sql(f"CREATE OR REPLACE TABLE `{schema}`.`{table}` USING DELTA AS SELECT {', '.join(select)} FROM raw_events")
    return len(rows)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            return True
        self.reply(401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."})
        return False

    def do_GET(self):
        if not self.authorized():
            return
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[:4] == ["api", "2.0", "sql", "statements"] and len(parts) >= 5 and parts[4] in statements:
            if len(parts) == 8 and parts[5:7] == ["result", "chunks"]:
                return self.reply(200, chunk(parts[4], int(parts[7])))
            return self.reply(200, answer(parts[4]))
        if self.path == "/test/cancelled":
            return self.reply(200, cancelled)
        self.reply(404, {"error_code": "NOT_FOUND", "message": f"no such path {self.path}"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/test/slow":
            slow.update(contains=body.get("contains"), seconds=body.get("seconds", 0))
            return self.reply(200, slow)
        if self.path == "/test/load_events":
            return self.reply(200, {"rows": load_events(body["csv"], body["schema"], body["table"])})
        if not self.authorized():
            return
        if self.path == "/api/2.0/sql/statements":
            statement_id = str(uuid.uuid4())
            statements[statement_id] = {"state": "RUNNING", "done": threading.Event()}
            threading.Thread(target=execute, args=(statement_id, body["statement"])).start()
            wait = float(str(body.get("wait_timeout", "10s")).rstrip("s") or 0)
            statements[statement_id]["done"].wait(wait)
            return self.reply(200, answer(statement_id))
        if self.path.endswith("/cancel"):
            statement_id = self.path.split("/")[-2]
            if statement_id in statements:
                statements[statement_id]["cancelled"] = True
                cancelled["ids"].append(statement_id)
            return self.reply(200, {})
        self.reply(404, {"error_code": "NOT_FOUND", "message": f"no such path {self.path}"})


try:
    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    standin.ready(http.server_address[1])
    http.serve_forever()
finally:
    sail.kill()
