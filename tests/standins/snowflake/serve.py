"""fakesnow's Snowflake server, answering as Snowflake does to a client that reads JSON, or (with
`arrow`) as Snowflake answers its own connectors: Arrow.

fakesnow (DuckDB underneath) answers every SELECT as Arrow, as Snowflake answers the Python
connector: an Arrow IPC stream in `rowsetBase64`, each field's Snowflake type in its metadata.
By default this launcher keeps fakesnow's routes and re-encodes each Arrow result as the JSON
rowset Snowflake would send (every cell a string or null), which is what sigbatch asks for.

With `arrow`, the Arrow answers stand, and a result of more than CHUNK_ROWS rows is split as
Snowflake splits a large one: its first CHUNK_ROWS rows inline, the rest in `chunks` of
CHUNK_ROWS rows, each an IPC stream of its own downloaded from this server (`/chunks/...`) with
the `chunkHeaders` the answer gives (a download without them is refused, as cloud storage
refuses it); every other chunk is gzip'd without a Content-Encoding header, as cloud storage
may send it.

One gap of fakesnow is bridged: ARRAY_FLATTEN, ARRAY_DISTINCT, ARRAY_SORT and ARRAY_CAT fail on
its ARRAY values (JSON underneath). Calls to them are renamed to DuckDB macros doing the same on lists of
text (sigbatch's unique lists hold text). Nothing else in the SQL is touched.

A login whose password is not PASSWORD is refused as Snowflake refuses it (code 390100);
fakesnow itself checks no credentials. A login's answer carries a numeric `sessionId`, as
Snowflake's does, and `SELECT SYSTEM$ABORT_SESSION(id)` (which fakesnow lacks) ends that
session as Snowflake ends it: its open transaction rolls back and its token stops working
(`GET /sigbatch/sessions` lists the ids still open, for the tests). A query request whose
requestId was answered before gets that answer again without running anything, as Snowflake
runs a resent request once (fakesnow would run it again).

Multi-statement requests (`MULTI_STATEMENT_COUNT`, which fakesnow refuses with HTTP 500) run
as Snowflake runs them, and `TABLE(INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION(...))` reads the
session's queries: multistatement.py says how. A child's answer is kept for
`GET /queries/{id}/result`, as Snowflake's connectors fetch it. `GET /sigbatch/requests` lists
every query request the stand-in received (resends included), with its session, requestId, how
many statements it held, the query ids it gave and the start of its text: what a test counts a
window's requests by.

Usage: python serve.py DIR PASSWORD [arrow]   (a stand-in as tests/standins/standin.py describes)
"""

import collections
import contextvars
import datetime
import decimal
import gzip
import json
import pathlib
import itertools
import re
import sys
import uuid
from base64 import b64encode

from starlette.responses import JSONResponse, Response, Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route, request_response

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import standin  # noqa: E402
import multistatement  # noqa: E402

import fakesnow.server as server

EPOCH_DATE = datetime.date(1970, 1, 1)
EPOCH = datetime.datetime(1970, 1, 1)
ARROW = len(sys.argv) > 3 and sys.argv[3] == "arrow"
# rows inline and per chunk in Arrow answers (small, so the fixture's larger reads come in chunks)
CHUNK_ROWS = 40
CHUNK_KEY = "sigbatch-standin-chunk-key"

# the Arrow table of the request being answered: per asyncio task, as requests interleave
last_table = contextvars.ContextVar("last_table", default=None)


def keep_table(table, rowtype):
    last_table.set(table)
    return table


def no_ipc(table):
    # a marker: fakesnow encodes (and so calls this) only for a result with rows
    return b"rows"


original_to_sf = server.to_sf


def keep_arrow_table(table, rowtype):
    converted = original_to_sf(table, rowtype)
    last_table.set(converted)
    return converted


if ARROW:
    server.to_sf = keep_arrow_table
else:
    server.to_sf = keep_table
    server.to_ipc = no_ipc

# chunk bodies by path, kept until downloaded
chunk_bodies = {}
chunk_ids = itertools.count()
# what was answered in Arrow, for the tests to see (GET /sigbatch/arrow-answers)
arrow_answers = {"inline": 0, "chunks": 0}


def split_into_chunks(data, request):
    """Keeps the first CHUNK_ROWS rows of an Arrow answer inline and serves the rest as chunks."""
    table = last_table.get()
    if table is None or table.num_rows <= CHUNK_ROWS:
        return
    data["rowsetBase64"] = b64encode(server.to_ipc(table.slice(0, CHUNK_ROWS))).decode()
    chunks = []
    for n, start in enumerate(range(CHUNK_ROWS, table.num_rows, CHUNK_ROWS)):
        part = table.slice(start, CHUNK_ROWS)
        body = server.to_ipc(part).to_pybytes()
        size = len(body)
        if n % 2 == 1:
            body = gzip.compress(body)
        path = f"/chunks/{next(chunk_ids)}"
        chunk_bodies[path] = body
        chunks.append({"url": f"{request.url.scheme}://{request.url.netloc}{path}",
                       "rowCount": part.num_rows, "uncompressedSize": size,
                       "compressedSize": len(body)})
    data["chunks"] = chunks
    data["chunkHeaders"] = {"x-amz-server-side-encryption-customer-key": CHUNK_KEY,
                            "x-amz-server-side-encryption-customer-algorithm": "AES256"}
    data["qrmk"] = CHUNK_KEY


async def chunk(request):
    if request.headers.get("x-amz-server-side-encryption-customer-key") != CHUNK_KEY:
        return Response(b"<Error><Code>AccessDenied</Code></Error>", status_code=403)
    body = chunk_bodies.pop(request.url.path, None)
    if body is None:
        return Response(b"<Error><Code>NoSuchKey</Code></Error>", status_code=404)
    arrow_answers["chunks"] += 1
    return Response(body, media_type="application/octet-stream")


def cell(value, kind):
    if value is None:
        return None
    if kind == "boolean":
        return "1" if value else "0"
    if kind == "date":
        return str((value - EPOCH_DATE).days)
    if kind == "time":
        # seconds since midnight, as Snowflake writes a TIME
        seconds = value.hour * 3600 + value.minute * 60 + value.second
        return f"{seconds}.{value.microsecond * 1000:09d}"
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
    aborting = abort_session(await request.body())
    if aborting is not None:
        request._body = aborting
    await bridge_array_functions(request)
    response = await original_query_request(request)
    body = json.loads(response.body)
    data = body.get("data") or {}
    if ARROW:
        if data.get("queryResultFormat") == "arrow" and data.get("rowsetBase64"):
            arrow_answers["inline"] += 1
            split_into_chunks(data, request)
            return JSONResponse(body, status_code=response.status_code)
        return response
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


history = multistatement.History()
# query id -> a child's answer, for GET /queries/{id}/result (the latest few thousand)
child_answers = collections.OrderedDict()
# every query request received, for GET /sigbatch/requests
received = []


def session_of(request):
    """The session id of the request's token (None when it has none)."""
    token = request.headers.get("Authorization", "")[17:-1]
    return next((i for i, t in session_tokens.items() if t == token), None)


async def rollback(token):
    conn = server.sessions.get(token)
    if conn is not None:
        await run_in_threadpool(conn.cursor().execute, "ROLLBACK")


async def statements_request(request):
    """One statement as fakesnow runs it, or several as Snowflake runs a multi-statement
    request (multistatement.py), each recorded in the session's query history."""
    body = json.loads(await request.body())
    token = request.headers.get("Authorization", "")[17:-1]
    session_id = session_of(request)
    statements = multistatement.split(body.get("sqlText", ""))
    desired = multistatement.desired_count(body)
    if token in server.sessions and len(statements) > 1 and desired not in (0, len(statements)):
        return JSONResponse(multistatement.mismatch(len(statements), desired)), []
    if len(statements) <= 1 or token not in server.sessions:
        body["sqlText"] = history.rewrite(body.get("sqlText", ""), session_id)
        request._body = json.dumps(body).encode()
        started = multistatement.now()
        response = await query_request(request)
        query_id = (json.loads(response.body).get("data") or {}).get("queryId")
        history.record(session_id, query_id, started, multistatement.now(), "SUCCESS")
        return response, [query_id]
    parent = str(uuid.uuid4())
    parent_started = multistatement.now()
    ids, types, transaction_open = [], [], False
    for text, line, position in statements:
        child = dict(body, sqlText=history.rewrite(text, session_id))
        child.get("parameters", {}).pop("MULTI_STATEMENT_COUNT", None)
        request._body = json.dumps(child).encode()
        started = multistatement.now()
        response = await query_request(request)
        answer = json.loads(response.body)
        query_id = (answer.get("data") or {}).get("queryId") or str(uuid.uuid4())
        succeeded = response.status_code == 200 and answer.get("success")
        history.record(session_id, query_id, started, multistatement.now(),
                       "SUCCESS" if succeeded else "FAILED_WITH_ERROR")
        if not succeeded:
            # the statements after it do not run; the transaction it began rolls back
            if transaction_open:
                await rollback(token)
            history.record(session_id, parent, parent_started, multistatement.now(), "FAILED_WITH_ERROR")
            failed = multistatement.failure(text, line, position, answer.get("message"), parent)
            return JSONResponse(failed), ids + [query_id]
        child_answers[query_id] = response.body
        while len(child_answers) > 5000:
            child_answers.popitem(last=False)
        ids.append(query_id)
        types.append(answer["data"].get("statementTypeId"))
        verb = multistatement.transaction_verb(text)
        transaction_open = verb == "begin" or (transaction_open and verb != "end")
    history.record(session_id, parent, parent_started, multistatement.now(), "SUCCESS")
    if transaction_open:
        await rollback(token)
        return JSONResponse(multistatement.left_open(parent)), ids
    conn = server.sessions.get(token)
    answer = multistatement.success(parent, ids, types, conn.database, conn.schema)
    return JSONResponse(answer), ids


async def child_result(request):
    """A child statement's answer by its query id, as the connectors fetch it."""
    query_id = request.path_params["query_id"]
    received.append({"session": session_of(request), "result_of": query_id})
    body = child_answers.get(query_id)
    if body is None or request.headers.get("Authorization", "")[17:-1] not in server.sessions:
        return JSONResponse({"data": None, "code": "000709", "success": False,
                             "message": f"Statement {query_id} not found"})
    return Response(body, media_type="application/json")


# requestId -> the answer: Snowflake runs a resent request (the same requestId) once
answered_requests = {}


async def query_request_once(request):
    request_id = request.query_params.get("requestId")
    sql = json.loads(await request.body()).get("sqlText", "")
    entry = {"session": session_of(request), "request_id": request_id, "sql": sql[:200],
             "statements": len(multistatement.split(sql)), "resent": request_id in answered_requests}
    received.append(entry)
    if request_id in answered_requests:
        body, status = answered_requests[request_id]
        return Response(body, status_code=status, media_type="application/json")
    response, entry["query_ids"] = await statements_request(request)
    if request_id:
        answered_requests[request_id] = (response.body, response.status_code)
    return response


original_login_request = server.login_request
# sessionId -> the session's token, for SYSTEM$ABORT_SESSION
session_tokens = {}
session_ids = itertools.count(1001)
ABORT_SESSION = re.compile(r"^\s*SELECT\s+SYSTEM\$ABORT_SESSION\((\d+)\)\s*;?\s*$", re.IGNORECASE)


def abort_session(request_body):
    """Ends the session an ABORT_SESSION names, and has fakesnow answer with Snowflake's text."""
    body = json.loads(request_body)
    match = ABORT_SESSION.match(body.get("sqlText", ""))
    if not match:
        return None
    session_id = int(match.group(1))
    conn = server.sessions.pop(session_tokens.pop(session_id, None), None)
    if conn is None:
        body["sqlText"] = f"SELECT 'Session {session_id} not found' AS \"SYSTEM$ABORT_SESSION\""
    else:
        try:
            conn._duck_conn.execute("ROLLBACK")
        except Exception:  # no transaction open
            pass
        body["sqlText"] = f"SELECT 'Session {session_id} successfully aborted.' AS \"SYSTEM$ABORT_SESSION\""
    return json.dumps(body).encode()


async def login_request(request):
    body = await request.body()
    if request.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    if json.loads(body)["data"].get("PASSWORD") != PASSWORD:
        return JSONResponse({"data": None, "code": "390100", "success": False,
                             "message": "Incorrect username or password was specified."})
    response = await original_login_request(request)
    answer = json.loads(response.body)
    session_id = next(session_ids)
    session_tokens[session_id] = answer["data"]["token"]
    answer["data"]["sessionId"] = session_id
    return JSONResponse(answer, status_code=response.status_code)


def replace_route(path, endpoint):
    for route in server.routes:
        if route.path == path:
            route.endpoint = endpoint
            route.app = request_response(endpoint)


replace_route("/queries/v1/query-request", query_request_once)
replace_route("/session/v1/login-request", login_request)
server.app.router.routes.append(Route("/chunks/{n}", chunk, methods=["GET"]))
server.app.router.routes.append(
    Route("/sigbatch/arrow-answers", lambda _: JSONResponse(arrow_answers), methods=["GET"]))
server.app.router.routes.append(Route("/queries/{query_id}/result", child_result, methods=["GET"]))
server.app.router.routes.append(
    Route("/sigbatch/requests", lambda _: JSONResponse(received), methods=["GET"]))
server.app.router.routes.append(Route("/sigbatch/sessions", lambda _: JSONResponse(
    [i for i, token in session_tokens.items() if token in server.sessions]), methods=["GET"]))


if __name__ == "__main__":
    PASSWORD = sys.argv[2]
    standin.exit_with_parent()
    sock, port = standin.listening_socket()
    standin.serve_asgi(server.app, sock, port)
