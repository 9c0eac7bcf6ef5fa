"""fakesnow's Snowflake server, answering as Snowflake does to a client that reads JSON.

fakesnow (DuckDB underneath) answers every SELECT as Arrow; sigbatch's Snowflake client reads
Snowflake's JSON rowsets (every cell a string or null). This launcher keeps fakesnow's routes and
re-encodes each Arrow result as the JSON rowset Snowflake would send.

One gap of fakesnow is bridged: ARRAY_FLATTEN, ARRAY_DISTINCT, ARRAY_SORT and ARRAY_CAT fail on
its ARRAY values (JSON underneath). Calls to them are renamed to DuckDB macros doing the same on lists of
text (sigbatch's unique lists hold text). Nothing else in the SQL is touched.

Usage: python serve.py PORT [PARENT_PID]   (listens on 127.0.0.1 only; exits when the parent
process, the test binary, is gone)
"""

import contextvars
import datetime
import decimal
import json
import os
import re
import sys
import threading
import time

import uvicorn
from starlette.responses import JSONResponse

import fakesnow.server as server

EPOCH_DATE = datetime.date(1970, 1, 1)
EPOCH = datetime.datetime(1970, 1, 1)

# the Arrow table of the request being answered: per asyncio task, as requests interleave
last_table = contextvars.ContextVar("last_table", default=None)


def keep_table(table, rowtype):
    last_table.set(table)
    return table


def no_ipc(table):
    # a marker: fakesnow encodes (and so calls this) only for a result with rows
    return b"rows"


server.to_sf = keep_table
server.to_ipc = no_ipc


def cell(value, kind):
    if value is None:
        return None
    if kind == "boolean":
        return "1" if value else "0"
    if kind == "date":
        return str((value - EPOCH_DATE).days)
    if kind.startswith("timestamp"):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        delta = value - EPOCH
        seconds = delta.days * 86400 + delta.seconds
        return f"{seconds}.{delta.microseconds * 1000:09d}"
    if kind == "real":
        return repr(float(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return str(value)


TEXT_LIST = "json_transform(to_json({}), '[\"VARCHAR\"]')"
ARRAY_MACROS = {
    "ARRAY_FLATTEN": ("x", "to_json(flatten(json_transform(to_json(x), '[[\"VARCHAR\"]]')))"),
    "ARRAY_DISTINCT": ("x", f"to_json(list_distinct({TEXT_LIST.format('x')}))"),
    "ARRAY_SORT": ("x", f"to_json(list_sort({TEXT_LIST.format('x')}))"),
    "ARRAY_CAT": ("a, b", f"to_json(list_concat({TEXT_LIST.format('a')}, {TEXT_LIST.format('b')}))"),
}
ARRAY_CALL = re.compile(r"\b(" + "|".join(ARRAY_MACROS) + r")\(", re.IGNORECASE)
sessions_with_macros = set()


async def bridge_array_functions(request):
    token = request.headers.get("Authorization", "")[17:-1]
    conn = server.sessions.get(token)
    if conn is None:
        return
    if token not in sessions_with_macros:
        for name, (parameters, body) in ARRAY_MACROS.items():
            conn._duck_conn.execute(f"CREATE OR REPLACE TEMP MACRO sigbatch_{name.lower()}({parameters}) AS {body}")
        sessions_with_macros.add(token)
    body = json.loads(await request.body())
    renamed = ARRAY_CALL.sub(lambda m: f"sigbatch_{m.group(1).lower()}(", body["sqlText"])
    if renamed != body["sqlText"]:
        body["sqlText"] = renamed
        request._body = json.dumps(body).encode()


original_query_request = server.query_request


async def query_request(request):
    last_table.set(None)
    await bridge_array_functions(request)
    response = await original_query_request(request)
    body = json.loads(response.body)
    data = body.get("data") or {}
    if data.get("queryResultFormat") == "arrow":
        # fakesnow skips the encoding (and answers "") for a result without rows
        table = last_table.get() if data.get("rowsetBase64") else None
        kinds = [c["type"].lower() for c in data.get("rowtype", [])]
        rows = []
        if table is not None:
            columns = [c.to_pylist() for c in table.columns]
            for row in zip(*columns):
                rows.append([cell(v, k) for v, k in zip(row, kinds)])
        data.pop("rowsetBase64", None)
        data["queryResultFormat"] = "json"
        data["rowset"] = rows
        data["returned"] = len(rows)
        return JSONResponse(body, status_code=response.status_code)
    return response


for route in server.routes:
    if route.path == "/queries/v1/query-request":
        route.endpoint = query_request
        route.app = __import__("starlette.routing", fromlist=["request_response"]).request_response(query_request)

def exit_with_parent(parent):
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


if __name__ == "__main__":
    if len(sys.argv) > 2:
        threading.Thread(target=exit_with_parent, args=(int(sys.argv[2]),), daemon=True).start()
    uvicorn.run(server.app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
