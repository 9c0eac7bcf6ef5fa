"""Starts local-bigquery 0.4.0 (scripts/bigquery-venv.sh) offline on loopback for the tests.

Three bridges, as docs/warehouses/bigquery.md describes: every DuckDB connection loads extensions from the
duckdb-ext-* wheels instead of downloading them; a DuckLake table whose estimated size is NULL
reports its row count (else tables.insert and CTAS fail); DuckDB 1.4.4's relation method
`fetch_arrow_reader` answers to the name the emulator calls.

The emulator checks no credentials: a request without `Authorization: Bearer TOKEN` is refused
here as BigQuery refuses it (HTTP 401, reason `unauthorized`). `CALL BQ.ABORT_SESSION('id')`
ends another session (its open transaction rolls back), which the emulator only does for the
form without an id run inside the session; `GET /sigbatch/sessions` lists the sessions still
open, for the tests. A jobs.query whose `requestId` was
answered before gets that answer again without running, as BigQuery runs a resent request once.
A dry run answers the bytes BigQuery would bill (estimate.py's `estimated_bytes`: the stored bytes of the
columns the query reads, over the partitions its WHERE clause keeps) where the emulator says 0.
A query job that runs (jobs.query, jobs.insert) reports the same estimate, made on its own
connection just before each statement runs (so a script's statement sees what the script's
earlier statements wrote, and the session's temporary tables), as `totalBytesProcessed` of
its statement, and as `totalBytesBilled` BigQuery's on-demand minimum (`billed_bytes`); a
script's job reports the sums of its statements' (its child jobs').

usage: serve.py DIR TOKEN   (a stand-in as tests/standins/standin.py describes; data in DIR/data)
"""

import json
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import standin  # noqa: E402

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

from fastapi.responses import JSONResponse, Response  # noqa: E402
from local_bigquery import app  # noqa: E402  (after the bridges)
from local_bigquery.engine import database, sessions  # noqa: E402
from local_bigquery.jobs import query as query_jobs, runner  # noqa: E402
from local_bigquery.grpc import server as grpc  # noqa: E402
from local_bigquery.settings import settings  # noqa: E402
from estimate import READING, billed_bytes, bytes_per_table, estimated_bytes  # noqa: E402

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

# `CALL BQ.ABORT_SESSION('id')` from outside the session: the emulator only knows the form
# without an id, run inside the session it ends
ABORT_OTHER_SESSION = re.compile(
    r"^\s*CALL\s+BQ\.ABORT_SESSION\s*\(\s*'([A-Za-z0-9_-]+)'\s*\)\s*;?\s*$", re.I)
_query = runner._query


def query_or_abort(job, session, running):
    match = ABORT_OTHER_SESSION.match(job.configuration.query.query or "")
    if not match:
        return _query(job, session, running)
    aborted = sessions._sessions.get(match.group(1))
    if aborted is not None:
        aborted.cursor.interrupt()
        with aborted.lock:
            sessions.abort(aborted.id)
    return runner.JobStatistics(query={})


runner._query = query_or_abort


_dry_run = runner._dry_run


def dry_run_with_bytes(project_id, configuration):
    job = _dry_run(project_id, configuration)
    statistics = job.statistics.query
    if statistics is None or statistics.statementType == "SCRIPT":
        return job
    default = configuration.query.defaultDataset
    try:
        processed = str(estimated_bytes(project_id, default and default.datasetId,
                                        configuration.query.query or ""))
    except Exception as error:  # an estimate is never worth failing a dry run that passed
        print(f"dry-run bytes not estimated: {error!r}", file=sys.stderr)
        return job
    return job.replace(statistics=job.statistics.replace(
        totalBytesProcessed=processed,
        query=statistics.replace(totalBytesProcessed=processed)))


runner._dry_run = dry_run_with_bytes


_statement = query_jobs._statement


def statement_with_bytes(cur, tree, context, destination, config, dry_run, isolated):
    per_table = None
    if not dry_run:
        token = READING.set((cur, set(context.temporary)))
        try:
            per_table = bytes_per_table(context.project_id, context.dataset_id, [tree.copy()])
        except Exception as error:  # an estimate is never worth failing a statement
            print(f"bytes not estimated: {error!r}", file=sys.stderr)
        finally:
            READING.reset(token)
    statistics = _statement(cur, tree, context, destination, config, dry_run, isolated)
    if per_table is None:
        return statistics
    return statistics.replace(totalBytesProcessed=str(sum(per_table.values())),
                              totalBytesBilled=str(billed_bytes(per_table)))


query_jobs._statement = statement_with_bytes
_execute_query = query_jobs.execute


def execute_with_bytes(cur, project_id, job_id, config, dry_run=False, session=None):
    statistics, children, destination = _execute_query(
        cur, project_id, job_id, config, dry_run=dry_run, session=session)
    if children and not dry_run:
        statistics = statistics.replace(**{
            field: str(sum(int(getattr(child, field) or 0) for child in children))
            for field in ("totalBytesProcessed", "totalBytesBilled")})
    return statistics, children, destination


query_jobs.execute = execute_with_bytes
_done = runner._done


def done_with_bytes(job, statistics, error=None):
    """The job's own `statistics.totalBytesProcessed` as its query's (the emulator's is 0)."""
    job = _done(job, statistics, error)
    query = job.statistics.query
    if query is not None and query.totalBytesProcessed not in (None, "0"):
        job = job.replace(statistics=job.statistics.replace(
            totalBytesProcessed=query.totalBytesProcessed))
    return job


runner._done = done_with_bytes


@app.get("/sigbatch/sessions")
def open_sessions():
    return list(sessions._sessions)



@app.middleware("http")
async def bearer_token(request, call_next):
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        message = ("Request had invalid authentication credentials. Expected OAuth 2 access token, "
                   "login cookie or other valid authentication credential.")
        return JSONResponse(status_code=401, content={"error": {
            "code": 401, "message": message, "status": "UNAUTHENTICATED",
            "errors": [{"message": message, "domain": "global", "reason": "unauthorized"}]}})
    return await call_next(request)


@app.middleware("http")
async def query_answer_bytes(request, call_next):
    """A jobs.query or jobs.getQueryResults answer of a finished job says the job's bytes (the
    emulator's answers say 0)."""
    response = await call_next(request)
    if "/queries" not in request.url.path or response.status_code != 200:
        return response
    content = b"".join([chunk async for chunk in response.body_iterator])
    try:
        answer = json.loads(content)
        reference = answer.get("jobReference") or {}
        if answer.get("jobComplete") and reference.get("jobId"):
            job = runner.get(reference["projectId"], reference["jobId"])
            query = job.statistics.query
            if query is not None and query.totalBytesProcessed is not None:
                answer["totalBytesProcessed"] = query.totalBytesProcessed
                if request.method == "POST":
                    answer["totalBytesBilled"] = query.totalBytesBilled or "0"
                content = json.dumps(answer).encode()
    except Exception as error:  # the answer as the emulator gave it
        print(f"bytes not added to the answer: {error!r}", file=sys.stderr)
    return Response(content, status_code=response.status_code, media_type="application/json")


# requestId -> the answer: BigQuery runs a jobs.query resent with its requestId once (the
# emulator would run it again)
answered_requests = {}


@app.middleware("http")
async def once_per_request_id(request, call_next):
    if request.method != "POST" or not request.url.path.endswith("/queries"):
        return await call_next(request)
    try:
        request_id = json.loads(await request.body()).get("requestId")
    except ValueError:
        request_id = None
    if request_id in answered_requests:
        content, status = answered_requests[request_id]
        return Response(content, status_code=status, media_type="application/json")
    response = await call_next(request)
    content = b"".join([chunk async for chunk in response.body_iterator])
    if request_id:
        answered_requests[request_id] = (content, response.status_code)
    return Response(content, status_code=response.status_code, media_type="application/json")


if __name__ == "__main__":
    # what local-bigquery's `serve` command does, on a socket bound here
    directory, TOKEN = sys.argv[1:3]
    standin.exit_with_parent()
    sock, port = standin.listening_socket()
    settings.bigquery_host = "127.0.0.1"
    settings.bigquery_port = port
    settings.default_project_id = "local"
    settings.data_dir = pathlib.Path(directory) / "data"
    settings.data_dir.mkdir(exist_ok=True)
    grpc_server, settings.grpc_port = grpc.start("127.0.0.1", 0)
    standin.serve_asgi(app, sock, port)
    grpc_server.stop(None)
