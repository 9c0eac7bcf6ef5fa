"""What BigQuery would bill a statement, for the stand-in (serve.py), where the emulator says 0.

`estimated_bytes`: the stored bytes of the columns a query references in each base table it
reads, over the partitions its WHERE clause keeps; `bytes_per_table` the same per table, for one
or more parsed statements; `billed_bytes` what BigQuery's on-demand pricing bills for them.
While `READING` is set (serve.py sets it around a running statement), the estimate reads through
that statement's cursor, so it sees the script's earlier writes and the session's temporary
tables; otherwise it reads the committed tables.

Imported by serve.py after its bridges, like the emulator's own modules.
"""

import contextvars
import datetime

from local_bigquery.catalog import names, tables
from local_bigquery.engine import database
from local_bigquery.engine.database import quote
from local_bigquery.jobs import query as query_jobs
from local_bigquery.sql.translate import parse
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

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
READING = contextvars.ContextVar("reading", default=None)
NO_DATASET = "_sigbatch_no_default_dataset"


def _temporary(table):
    reading = READING.get()
    return reading is not None and table[2].casefold() in reading[1]


def _fetch(sql, params):
    reading = READING.get()
    if reading is None:
        return database.fetch(sql, params)
    return reading[0].execute(sql, params).fetchall()


def _table_fields(table):
    if _temporary(table):
        cursor = READING.get()[0]
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
