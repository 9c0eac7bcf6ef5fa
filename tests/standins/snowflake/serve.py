"""fakesnow's Snowflake server, answering as Snowflake does to a client that reads JSON.

fakesnow (DuckDB underneath) answers every SELECT as Arrow; sigbatch's Snowflake client reads
Snowflake's JSON rowsets (every cell a string or null). This launcher keeps fakesnow's routes and
re-encodes each Arrow result as the JSON rowset Snowflake would send.

One gap of fakesnow is bridged: ARRAY_FLATTEN, ARRAY_DISTINCT, ARRAY_SORT and ARRAY_CAT fail on
its ARRAY values (JSON underneath). Calls to them are renamed to DuckDB macros doing the same on lists of
text (sigbatch's unique lists hold text). Nothing else in the SQL is touched.

A login whose password is not PASSWORD is refused as Snowflake refuses it (code 390100);
fakesnow itself checks no credentials.

Usage: python serve.py DIR PASSWORD   (a stand-in as tests/standins/standin.py describes)
"""

import contextvars
import datetime
import decimal
import gzip
import json
import pathlib
import re
import sys

from starlette.responses import JSONResponse
from starlette.routing import request_response

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import standin  # noqa: E402

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


original_login_request = server.login_request


async def login_request(request):
    body = await request.body()
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    if json.loads(body)["data"].get("PASSWORD") != PASSWORD:
        return JSONResponse({"data": None, "code": "390100", "success": False,
                             "message": "Incorrect username or password was specified."})
    return await original_login_request(request)


def replace_route(path, endpoint):
    for route in server.routes:
        if route.path == path:
            route.endpoint = endpoint
            route.app = request_response(endpoint)


replace_route("/queries/v1/query-request", query_request)
replace_route("/session/v1/login-request", login_request)


if __name__ == "__main__":
    PASSWORD = sys.argv[2]
    standin.exit_with_parent()
    sock, port = standin.listening_socket()
    standin.serve_asgi(server.app, sock, port)
