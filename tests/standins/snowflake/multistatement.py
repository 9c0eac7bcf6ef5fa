"""What the Snowflake stand-in adds to fakesnow for multi-statement requests and query history,
kept apart from the routes (serve.py) so the rules read in one place.

Snowflake runs a request whose `sqlText` holds several statements when its `parameters` carry
`MULTI_STATEMENT_COUNT` (the number of statements, or 0 for any number); without it, or with a
count that does not match, it refuses the request (000008, "Actual statement count N did not
match the desired statement count M."). The statements run one after another as child queries
(each with a query id of its own), and the answer lists their ids in `resultIds` and their
statement types in `resultTypes`, comma-separated, beside one row "Multiple statements executed
successfully." (the connectors fetch each child's result by id when they want it).

A child that fails stops the request: the statements after it do not run, and the answer is
Snowflake's error 100132 (SQL state P0000) naming the statement (its first 30 characters) and
where it starts in the request text (line from 1, position from 0), then the child's own
message. Multi-statement requests run inside Snowflake's SYSTEM$MULTISTMT procedure, and a
transaction begun in a procedure and still open when it ends is rolled back with an error
(Snowflake's "Stored procedures and transactions"; its SQL API: a transaction's BEGIN, statements
and COMMIT must come in one request). So a request that fails, or ends, with the transaction it
began still open rolls that transaction back. The wording of the error for a request that ends
with a transaction open is the stand-in's own.

`TABLE(INFORMATION_SCHEMA.QUERY_HISTORY_BY_SESSION(...))` (which fakesnow lacks) reads what the
stand-in recorded of the session's queries: QUERY_ID, SESSION_ID, START_TIME, END_TIME,
TOTAL_ELAPSED_TIME (milliseconds) and EXECUTION_STATUS, the latest RESULT_LIMIT (default 100).
"""

import datetime
import re

from sqlglot.dialects.snowflake import Snowflake
from sqlglot.tokens import TokenType

FAILED_CODE = "100132"
FAILED_STATE = "P0000"
MISMATCH_CODE = "000008"
MISMATCH_STATE = "0A000"
SUCCESS_TEXT = "Multiple statements executed successfully."
SUCCESS_COLUMN = "multiple statement execution"
# the statement type Snowflake gives a multi-statement parent (a SELECT's, with the column above)
PARENT_TYPE = 4096


def split(sql):
    """The statements of `sql` as (text, line, position) where each starts (line from 1,
    position from 0 within its line); semicolons inside strings and comments do not split."""
    # text without a semicolon is one statement: not tokenized (sqlglot's Python tokenizer takes
    # seconds over the few MB of a test's bulk insert)
    if ";" not in sql:
        cuts = []
    else:
        cuts = [t.start for t in Snowflake().tokenize(sql) if t.token_type == TokenType.SEMICOLON]
    statements = []
    start = 0
    for end in cuts + [len(sql)]:
        piece = sql[start:end]
        stripped = piece.strip()
        if stripped:
            at = start + (len(piece) - len(piece.lstrip()))
            line = sql.count("\n", 0, at) + 1
            position = at - (sql.rfind("\n", 0, at) + 1)
            statements.append((stripped, line, position))
        start = end + 1
    return statements


def desired_count(body):
    """MULTI_STATEMENT_COUNT as the request's parameters give it (1, Snowflake's default,
    when they do not)."""
    value = (body.get("parameters") or {}).get("MULTI_STATEMENT_COUNT", 1)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 1


def mismatch(actual, desired):
    return {"data": {"errorCode": MISMATCH_CODE, "sqlState": MISMATCH_STATE},
            "code": MISMATCH_CODE, "success": False,
            "message": f"Actual statement count {actual} did not match the desired statement count {desired}."}


def failure(statement, line, position, inner, query_id):
    """Snowflake's answer to a request whose statement `statement` failed with `inner`."""
    shown = statement if len(statement) <= 30 else statement[:30] + "..."
    message = (
        f"JavaScript execution error: Uncaught Execution of multiple statements failed on statement "
        f"\"{shown}\" (at line {line}, position {position}).\n{inner} in SYSTEM$MULTISTMT at "
        "'    throw `Execution of multiple statements failed on statement {0} (at line {1}, "
        "position {2}).`.replace('{1}', LINES[i])' position 4\nstackstrace: \nSYSTEM$MULTISTMT line: 10"
    )
    return {"data": {"errorCode": FAILED_CODE, "sqlState": FAILED_STATE, "queryId": query_id},
            "code": FAILED_CODE, "message": message, "success": False}


def left_open(query_id):
    """The stand-in's answer to a request that ended with the transaction it began open."""
    message = ("JavaScript execution error: Uncaught the multiple statements ended with their "
               "transaction still open; it was rolled back in SYSTEM$MULTISTMT")
    return {"data": {"errorCode": FAILED_CODE, "sqlState": FAILED_STATE, "queryId": query_id},
            "code": FAILED_CODE, "message": message, "success": False}


def success(query_id, child_ids, child_types, database, schema):
    return {"data": {
        "parameters": [{"name": "TIMEZONE", "value": "Etc/UTC"}],
        "rowtype": [{"name": SUCCESS_COLUMN, "database": "", "schema": "", "table": "",
                     "type": "text", "byteLength": 16777216, "length": 16777216,
                     "scale": None, "precision": None, "nullable": False, "collation": None}],
        "rowset": [[SUCCESS_TEXT]], "total": 1, "returned": 1, "queryResultFormat": "json",
        "queryId": query_id, "statementTypeId": PARENT_TYPE,
        "resultIds": ",".join(child_ids),
        "resultTypes": ",".join(str(t) for t in child_types),
        "finalDatabaseName": database, "finalSchemaName": schema,
    }, "code": None, "message": None, "success": True}


def transaction_verb(statement):
    """'begin', 'end' (COMMIT or ROLLBACK) or None: how a statement moves the transaction."""
    word = statement.split(None, 1)[0].upper().rstrip(";") if statement.split() else ""
    if word in ("BEGIN", "START"):
        return "begin"
    if word in ("COMMIT", "ROLLBACK"):
        return "end"
    return None


class History:
    """The queries of each session as Snowflake's query history lists them, latest last."""

    KEEP = 10_000

    def __init__(self):
        self.by_session = {}

    def record(self, session_id, query_id, started, ended, status):
        if session_id is None or not query_id:
            return
        queries = self.by_session.setdefault(session_id, [])
        queries.append((query_id, session_id, started, ended, status))
        del queries[:-self.KEEP]

    CALL = re.compile(
        r"TABLE\s*\(\s*INFORMATION_SCHEMA\s*\.\s*QUERY_HISTORY_BY_SESSION\s*\(([^()]*)\)\s*\)",
        re.IGNORECASE)
    LIMIT = re.compile(r"RESULT_LIMIT\s*=>\s*(\d+)", re.IGNORECASE)
    COLUMNS = "QUERY_ID, SESSION_ID, START_TIME, END_TIME, TOTAL_ELAPSED_TIME, EXECUTION_STATUS"

    def rewrite(self, sql, session_id):
        """`sql` with each QUERY_HISTORY_BY_SESSION call replaced by the recorded rows."""

        def rows(match):
            limit = self.LIMIT.search(match.group(1))
            limit = int(limit.group(1)) if limit else 100
            queries = self.by_session.get(session_id, [])[-limit:][::-1]
            if not queries:
                return ("(SELECT NULL::VARCHAR AS QUERY_ID, NULL::NUMBER AS SESSION_ID, "
                        "NULL::TIMESTAMP_LTZ AS START_TIME, NULL::TIMESTAMP_LTZ AS END_TIME, "
                        "NULL::NUMBER AS TOTAL_ELAPSED_TIME, NULL::VARCHAR AS EXECUTION_STATUS "
                        "WHERE FALSE)")
            values = ", ".join(
                f"('{q}', {s}, '{stamp(a)}'::TIMESTAMP_LTZ, '{stamp(b)}'::TIMESTAMP_LTZ, "
                f"{elapsed_ms(a, b)}, '{status}')"
                for q, s, a, b, status in queries)
            return f"(SELECT * FROM (VALUES {values}) AS history ({self.COLUMNS}))"

        return self.CALL.sub(rows, sql)


def stamp(moment):
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def elapsed_ms(started, ended):
    return max(0, round((ended - started) / datetime.timedelta(milliseconds=1)))


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
