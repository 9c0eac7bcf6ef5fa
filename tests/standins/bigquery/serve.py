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
A dry run answers the bytes BigQuery would bill (`estimated_bytes`: the stored bytes of the
columns the query reads, over the partitions its WHERE clause keeps) where the emulator says 0.
A query job that runs (jobs.query, jobs.insert) reports the same estimate, made on its own
connection just before each statement runs (so a script's statement sees what the script's
earlier statements wrote, and the session's temporary tables), as `totalBytesProcessed` of
its statement, and as `totalBytesBilled` BigQuery's on-demand minimum (`billed_bytes`); a
script's job reports the sums of its statements' (its child jobs').

usage: serve.py DIR TOKEN   (a stand-in as tests/standins/standin.py describes; data in DIR/data)
"""

import contextvars
import datetime
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
from local_bigquery.catalog import names, tables  # noqa: E402
from local_bigquery.engine.database import quote  # noqa: E402
from local_bigquery.sql.translate import parse  # noqa: E402
import sqlglot  # noqa: E402
from sqlglot import exp  # noqa: E402
from sqlglot.optimizer.qualify import qualify  # noqa: E402
from sqlglot.optimizer.scope import traverse_scope  # noqa: E402

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


# A dry run's bytes as BigQuery bills a query (the emulator answers 0 to every dry run).
# BigQuery's sizes per value; a NULL is 0 bytes, a STRING/BYTES/JSON 2 + its length in bytes,
# a RECORD the sum of its fields, a REPEATED field the sum of its items
VALUE_BYTES = {"INTEGER": 8, "INT64": 8, "FLOAT": 8, "FLOAT64": 8, "TIMESTAMP": 8, "DATE": 8,
               "DATETIME": 8, "TIME": 8, "BOOLEAN": 1, "BOOL": 1, "NUMERIC": 16,
               "BIGNUMERIC": 32, "INTERVAL": 16, "GEOGRAPHY": 16}
# comparisons of the partition column with a constant: which side of the range each bounds
LOWER_BOUNDS = (exp.GTE, exp.GT)
UPPER_BOUNDS = (exp.LTE, exp.LT)
FLIPPED = {exp.GTE: exp.LTE, exp.GT: exp.LT, exp.LTE: exp.GTE, exp.LT: exp.GT, exp.EQ: exp.EQ}


def estimated_bytes(project_id, dataset_id, sql):
    """The bytes BigQuery would bill `sql` for: for each base table it reads, the bytes of the
    columns it references (a RECORD referenced through a field, `col[SAFE_OFFSET(0)].field`,
    only that field's bytes, as BigQuery stores nested fields apart), over the rows of the
    partitions the WHERE clause keeps when it bounds the table's day partitioning column with
    constants (`load_tstamp >= TIMESTAMP '...'` and `<`, `<=`, `>`, `=`, BETWEEN, in the AND-ed
    conditions of the SELECT that reads the table). Sizes come from the stored data (VALUE_BYTES).

    Columns are resolved with sqlglot: the query is qualified against the tables' schemas and
    each scope's columns traced to their source (CTEs and subqueries to the table beneath).
    Known gaps: an INSERT's or CREATE's target is not read (as in BigQuery), but DELETE, UPDATE
    and MERGE, and any query sqlglot cannot qualify, count every column whose name appears
    anywhere in the statement, whole and without pruning; a table read twice is counted once,
    over the partitions any of its reads keeps; a bound that is not a constant (a subquery, a
    parameter, a script's variable) prunes nothing, nor does partitioning by hour, month, year
    or integer range; clustering is not modelled; a table the catalog does not know
    (INFORMATION_SCHEMA, a table not made yet) is read as empty; an unqualified name that is a
    temporary table of the session is that table, even when the default dataset has one too.
    A script's dry run answers no bytes (the emulator's SCRIPT); a script that runs reports
    each statement's estimate (see `statement_with_bytes`)."""
    return sum(bytes_per_table(project_id, dataset_id, parse(sql)).values())


def bytes_per_table(project_id, dataset_id, trees):
    """`estimated_bytes` of the statements `trees`, per base table read."""
    # without a default dataset an unqualified name is a temporary table (or none)
    dataset_id = dataset_id or NO_DATASET
    reads = {}  # table (project, dataset, name) -> {"paths": set, "ranges": list}
    for tree in trees:
        if isinstance(tree, (exp.Insert, exp.Create)) and isinstance(tree.expression, exp.Query):
            query = tree.expression
        elif isinstance(tree, exp.Query):
            query = tree
        else:
            _read_loosely(tree, project_id, dataset_id, reads, target_read=True)
            continue
        try:
            _read_by_scope(query, project_id, dataset_id, reads)
        except Exception:  # sqlglot cannot qualify it
            _read_loosely(query, project_id, dataset_id, reads, target_read=False)
    return {table: _table_bytes(table, read) for table, read in reads.items()}


# Where a running statement's estimate reads: its job's cursor (which sees its session's
# temporary tables and its transaction's writes) and the session's temporary tables' names
# (casefolded); a dry run reads the committed tables on a connection of its own
_reading = contextvars.ContextVar("reading", default=None)
NO_DATASET = "_sigbatch_no_default_dataset"


def _temporary(table):
    reading = _reading.get()
    return reading is not None and table[2].casefold() in reading[1]


def _fetch(sql, params):
    reading = _reading.get()
    if reading is None:
        return database.fetch(sql, params)
    return reading[0].execute(sql, params).fetchall()


def _table_fields(table):
    if _temporary(table):
        cursor = _reading.get()[0]
        return query_jobs._fields(cursor.sql(f"SELECT * FROM {quote(table[2])} LIMIT 0"))
    try:
        return tables.fields(tables.load(*table))
    except Exception:  # a table that does not exist (yet) is read as empty
        return None


def _day_partitioning(table):
    """The column `table` is partitioned on by day, else None."""
    if _temporary(table):
        return None
    partitioning = tables.load(*table).timePartitioning
    return partitioning and partitioning.type == "DAY" and partitioning.field


def _base_tables(query, project_id, dataset_id):
    """The tables `query` names that are not its CTEs, with their fields."""
    ctes = {cte.alias_or_name.casefold() for cte in query.find_all(exp.CTE)}
    found = {}
    for node in query.find_all(exp.Table):
        if not node.db and node.name.casefold() in ctes:
            continue
        table = names.reference(node, project_id, dataset_id)
        if table not in found and (fields := _table_fields(table)) is not None:
            found[table] = fields
    return found


def _read(reads, table):
    return reads.setdefault(table, {"paths": set(), "ranges": []})


def _read_by_scope(query, project_id, dataset_id, reads):
    found = _base_tables(query, project_id, dataset_id)
    schema = {}
    for (project, dataset, name), fields in found.items():
        schema.setdefault(project, {}).setdefault(dataset, {})[name] = {
            f.name: "STRING" for f in fields}
    query = qualify(query.copy(), schema=schema, dialect="bigquery", catalog=project_id,
                    db=dataset_id, validate_qualify_columns=False, identify=False)
    for scope in traverse_scope(query):
        by_alias = {}
        for alias, source in scope.sources.items():
            if isinstance(source, exp.Table):
                table = names.reference(source, project_id, dataset_id)
                if table in found:
                    by_alias[alias] = table
        used = set()  # the aliases whose columns this scope reads (COUNT(*) reads none)
        for column in scope.columns:
            if column.table in by_alias:
                _read(reads, by_alias[column.table])["paths"].add(_path(column))
                used.add(column.table)
        for star in scope.stars:
            alias = star.table if isinstance(star, exp.Column) else None
            for alias in [alias] if alias in by_alias else list(by_alias):
                _read(reads, by_alias[alias])["paths"].add(())
                used.add(alias)
        for alias in used:
            table = by_alias[alias]
            field = _day_partitioning(table)
            bounds = _bounds(scope.expression, alias, field) if field else (None, None)
            _read(reads, table)["ranges"].append((field, *bounds))


def _path(column):
    """A column and the fields read through it (`col[0].a.b`: (col, a, b)); (col,): the whole."""
    path, node = [column.name], column
    while isinstance(node.parent, (exp.Bracket, exp.Dot)) and node.parent.this is node:
        node = node.parent
        if isinstance(node, exp.Dot):
            path.append(node.name)
    return tuple(path)


def _bounds(select, alias, field):
    """(lower, upper) of `field` in the AND-ed conditions of `select`'s WHERE, each None or
    (the constant, whether it is included)."""
    where = select.args.get("where") if isinstance(select, exp.Select) else None
    lower = upper = None
    conditions = where.this.flatten() if where and isinstance(where.this, exp.And) else (
        [where.this] if where else [])
    for condition in conditions:
        comparisons = []
        if isinstance(condition, exp.Between):
            comparisons = [(exp.GTE, condition.this, condition.args["low"]),
                           (exp.LTE, condition.this, condition.args["high"])]
        elif type(condition) in FLIPPED:
            comparisons = [(type(condition), condition.this, condition.expression),
                           (FLIPPED[type(condition)], condition.expression, condition.this)]
        for kind, left, right in comparisons:
            if not (isinstance(left, exp.Column) and left.name.casefold() == field.casefold()
                    and left.table == alias):
                continue
            value = _constant(right)
            if value is None:
                continue
            if kind in LOWER_BOUNDS or kind is exp.EQ:
                lower = (value, kind is not exp.GT)
            if kind in UPPER_BOUNDS or kind is exp.EQ:
                upper = (value, kind is not exp.LT)
    return lower, upper


def _constant(node):
    """The text of a string literal, or of one cast to a TIMESTAMP or DATE, that reads as a
    time (else it bounds nothing: an estimate that fails to cast would end the transaction of
    the statement it is made for); else None."""
    if isinstance(node, exp.Cast) and node.to.is_type(
            *exp.DataType.TEMPORAL_TYPES) and isinstance(node.this, exp.Literal):
        node = node.this
    if not (isinstance(node, exp.Literal) and node.is_string):
        return None
    try:
        datetime.datetime.fromisoformat(node.this.strip().replace(" UTC", "+00:00"))
    except ValueError:
        return None
    return node.this


def _read_loosely(tree, project_id, dataset_id, reads, target_read):
    """Every column of each table `tree` reads whose name appears in `tree`, whole."""
    target = names.target(tree)
    found = _base_tables(tree, project_id, dataset_id)
    # `a.b` may be column b of table a or field b of column a
    mentioned = {part.name.casefold() for column in tree.find_all(exp.Column)
                 for part in column.parts}
    star = tree.find(exp.Star) is not None
    for table, fields in found.items():
        if target is not None and not target_read and table == names.reference(
                target, project_id, dataset_id):
            continue
        paths = _read(reads, table)["paths"]
        paths.update((f.name,) for f in fields if star or f.name.casefold() in mentioned)
        _read(reads, table)["ranges"].append((None, None, None))


def _table_bytes(table, read):
    """The bytes of the paths read of `table` over the partitions its reads keep."""
    fields = _table_fields(table)
    if not fields or not read["paths"]:
        return 0
    if () in read["paths"]:
        read["paths"] = {(f.name,) for f in fields}
    sizes = [_value_bytes(quote(f.name), f, {p[1:] for p in read["paths"]
                                             if p[0].casefold() == f.name.casefold()}, 0)
             for f in fields if any(p[0].casefold() == f.name.casefold() for p in read["paths"])]
    if not sizes:
        return 0
    # the partitions kept: those of the days each read's range meets (all, if one read has none)
    conditions, params = [], []
    ranges = read["ranges"]
    if ranges and all(field and (lower or upper) for field, lower, upper in ranges):
        for field, lower, upper in ranges:
            day = f"date_trunc('day', {quote(field)})"
            parts = ["TRUE"]
            if lower:
                parts.append(f"{day} >= date_trunc('day', CAST(? AS TIMESTAMPTZ))")
                params.append(lower[0])
            if upper:
                parts.append(f"{day} {'<=' if upper[1] else '<'} CAST(? AS TIMESTAMPTZ)")
                params.append(upper[0])
            conditions.append(" AND ".join(parts))
    where = " OR ".join(f"({c})" for c in conditions) if conditions else "TRUE"
    sums = " + ".join(f"COALESCE(SUM({size}), 0)" for size in sizes)
    source = quote(table[2]) if _temporary(table) else tables.name(*table)
    (total,) = _fetch(f"SELECT CAST({sums} AS BIGINT) FROM {source} WHERE {where}", params)[0]
    return int(total or 0)


def _value_bytes(value, field, paths, depth):
    """SQL for the bytes of `value`, a stored `field`, reading `paths` of it (() or none: all)."""
    if field.mode == "REPEATED":
        item = f"item{depth}"
        inner = _value_bytes(item, field.replace(mode="NULLABLE"), paths, depth + 1)
        return f"COALESCE(list_sum(list_transform({value}, lambda {item}: {inner})), 0)"
    if field.type in ("RECORD", "STRUCT"):
        whole = not paths or () in paths
        parts = []
        for sub in field.fields or []:
            below = {p[1:] for p in paths if p and p[0].casefold() == sub.name.casefold()}
            if whole or below:
                parts.append(_value_bytes(f"{value}.{quote(sub.name)}", sub,
                                          set() if whole else below, depth + 1))
        return f"({' + '.join(parts) or '0'})"
    if field.type in ("STRING", "JSON"):
        return f"COALESCE(2 + strlen(CAST({value} AS VARCHAR)), 0)"
    if field.type == "BYTES":
        return f"COALESCE(2 + octet_length({value}), 0)"
    size = VALUE_BYTES.get(field.type, 8)
    return f"CASE WHEN {value} IS NULL THEN 0 ELSE {size} END"


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


# What a query that runs reports: each statement its estimate as `totalBytesProcessed` and, as
# `totalBytesBilled`, what BigQuery's on-demand pricing bills for it: at least 10 MB per table
# read (MB as BigQuery counts them, 2^20 bytes), the total rounded up to a whole MB; a
# statement that reads nothing (DDL, a read of empty tables) bills nothing. A script's job
# (and BigQuery's) reports the sums over its statements.
MB = 1 << 20
MINIMUM_PER_TABLE = 10 * MB


def billed_bytes(per_table):
    read = [size for size in per_table.values() if size > 0]
    if not read:
        return 0
    total = sum(max(size, MINIMUM_PER_TABLE) for size in read)
    return -(-total // MB) * MB


_statement = query_jobs._statement


def statement_with_bytes(cur, tree, context, destination, config, dry_run, isolated):
    per_table = None
    if not dry_run:
        token = _reading.set((cur, set(context.temporary)))
        try:
            per_table = bytes_per_table(context.project_id, context.dataset_id, [tree.copy()])
        except Exception as error:  # an estimate is never worth failing a statement
            print(f"bytes not estimated: {error!r}", file=sys.stderr)
        finally:
            _reading.reset(token)
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
