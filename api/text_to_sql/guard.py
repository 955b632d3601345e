"""Static safety check for SQL written by the LLM, run before anything reaches PostgreSQL.

The guard is the first of two walls. The second is the database itself: the API connects as a
read-only role that can only select from the ``marts`` schema. Because the database is the real
backstop, this module is allowed to be blunt: whenever a construct is unusual, ambiguous or merely
not needed for analytics over the marts, it is refused. A refused analyst query costs one more
round trip with the LLM (the refusal reason is fed back to it); an accepted hostile query could
cost a lot more.

What is checked, anywhere in the tree (CTEs, subqueries, set operations, lateral joins...):

* exactly one statement, and it is a SELECT or a UNION/INTERSECT/EXCEPT of SELECTs;
* no DML, DDL, COPY, SET/SHOW, transaction control, SELECT INTO, locking clause, or statement
  that sqlglot could not parse and kept as a raw ``Command``;
* relations only from the marts schema and only from an allowlist of tables; unqualified names
  must be a CTE visible at that point or an allowed table (which is then rendered qualified);
* functions only from :data:`ALLOWED_FUNCTIONS`, never schema-qualified, and never used as a
  table in FROM (``unnest`` is the one table function allowed there);
* casts only to plain scalar types (no ``regclass``/``oid`` lookups, no user-defined types);
* no ``E'...'`` escape strings: sqlglot re-renders them with a lone backslash before a quote,
  which PostgreSQL reads differently from sqlglot and could turn into a second statement;
* a LIMIT no larger than the caller's limit on the outermost query.

The SQL that is returned (and must be the SQL that is executed) is rendered from the checked and
rewritten tree, never the input text, with comments dropped. The rendering assumes the server runs
with ``standard_conforming_strings = on`` (the PostgreSQL default since 9.1).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

DIALECT = "postgres"
DEFAULT_SCHEMA = "marts"
MAX_SQL_CHARS = 20_000

# --------------------------------------------------------------------------------------------
# Function allowlist. Names are PostgreSQL function names, lower case. sqlglot parses most of
# them into typed classes (exp.Count, exp.TimestampTrunc...) and the rest into exp.Anonymous;
# _function_name() maps both back to these names.
# --------------------------------------------------------------------------------------------

AGGREGATE_FUNCTIONS = frozenset(
    {
        "count", "sum", "avg", "min", "max",
        "stddev", "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp",
        "percentile_cont", "percentile_disc", "mode",
        "array_agg", "string_agg", "bool_and", "bool_or", "every",
        "corr", "covar_pop", "covar_samp",
        "regr_avgx", "regr_avgy", "regr_count", "regr_intercept", "regr_r2", "regr_slope",
        "regr_sxx", "regr_sxy", "regr_syy",
    }
)  # fmt: skip

MATH_FUNCTIONS = frozenset(
    {
        "abs", "round", "ceil", "ceiling", "floor", "trunc", "sign", "sqrt", "cbrt",
        "power", "pow", "exp", "ln", "log", "log10", "mod", "div", "width_bucket",
    }
)  # fmt: skip

STRING_FUNCTIONS = frozenset(
    {
        "lower", "upper", "initcap", "length", "char_length", "character_length",
        "trim", "btrim", "ltrim", "rtrim", "substring", "substr", "left", "right",
        "replace", "translate", "concat", "concat_ws", "position", "strpos", "split_part",
        "lpad", "rpad", "reverse", "starts_with", "regexp_replace", "regexp_match",
    }
)  # fmt: skip

DATE_FUNCTIONS = frozenset(
    {
        "extract", "date_part", "date_trunc", "age", "make_date", "make_interval",
        "make_timestamp", "to_char", "to_date", "to_timestamp",
        "now", "current_date", "current_timestamp",
    }
)  # fmt: skip

CONDITIONAL_FUNCTIONS = frozenset({"coalesce", "nullif", "case", "cast", "greatest", "least"})

ARRAY_FUNCTIONS = frozenset(
    {
        "unnest", "array_length", "cardinality", "array_to_string", "array_position",
        "string_to_array", "any", "all", "some",
    }
)  # fmt: skip

WINDOW_FUNCTIONS = frozenset(
    {
        "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile",
        "lag", "lead", "first_value", "last_value", "nth_value",
    }
)  # fmt: skip

#: Every function an analyst query may call, by PostgreSQL name.
ALLOWED_FUNCTIONS: frozenset[str] = (
    AGGREGATE_FUNCTIONS
    | MATH_FUNCTIONS
    | STRING_FUNCTIONS
    | DATE_FUNCTIONS
    | CONDITIONAL_FUNCTIONS
    | ARRAY_FUNCTIONS
    | WINDOW_FUNCTIONS
)

#: Syntax and operators that sqlglot happens to model as function nodes. They are accepted only
#: as typed sqlglot classes, never as a call spelled ``"and"(...)`` (that is exp.Anonymous).
SYNTAX_FUNCTIONS: frozenset[str] = frozenset(
    {"and", "or", "array", "exists", "collate", "~", "~*", "@>", "&&"}
)

#: sqlglot class name -> PostgreSQL name, where sqlglot's own name for the class differs.
_PG_NAMES: dict[str, str] = {
    "Variance": "var_samp",
    "VariancePop": "var_pop",
    "GroupConcat": "string_agg",
    "LogicalAnd": "bool_and",
    "LogicalOr": "bool_or",
    "StrPosition": "strpos",
    "TimestampTrunc": "date_trunc",
    "DateTrunc": "date_trunc",
    "TimeToStr": "to_char",
    "ToChar": "to_char",
    "StrToDate": "to_date",
    "StrToTime": "to_timestamp",
    "UnixToTime": "to_timestamp",
    "TimestampFromParts": "make_timestamp",
    "DateFromParts": "make_date",
    "Explode": "unnest",
    "Unnest": "unnest",
    "ArraySize": "array_length",
    "If": "case",  # the WHEN branches of a CASE; a bare IF() is also rendered as CASE
    "RegexpLike": "~",
    "RegexpILike": "~*",
    "ArrayContainsAll": "@>",
    "ArrayOverlaps": "&&",
    "ExplodingGenerateSeries": "generate_series",
    "GenerateSeries": "generate_series",
    "CurrentVersion": "version",
}

#: Cast targets. Everything else (regclass/oid lookups, xml, user-defined types...) is refused.
ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        "SMALLINT", "INT", "BIGINT", "DECIMAL", "FLOAT", "DOUBLE",
        "TEXT", "VARCHAR", "CHAR", "NCHAR", "NVARCHAR", "BOOLEAN",
        "DATE", "TIME", "TIMETZ", "TIMESTAMP", "TIMESTAMPTZ", "INTERVAL", "ARRAY",
    }
)  # fmt: skip

#: Parenthesis-less SQL value functions that sqlglot leaves as plain columns.
_BARE_VALUE_FUNCTIONS = frozenset(
    {"user", "current_user", "session_user", "current_role", "system_user", "current_schema"}
)

#: Statement-like nodes refused wherever they appear (class names, resolved below so that a
#: class missing from another sqlglot version is simply skipped).
_FORBIDDEN_NODE_NAMES = (
    "DDL", "DML", "Insert", "Update", "Delete", "Merge", "Copy", "Create", "Drop", "Alter",
    "TruncateTable", "Grant", "Revoke", "Comment", "Set", "Show", "Transaction", "Commit",
    "Rollback", "Command", "Into", "Lock", "Use", "Pragma", "Describe", "Kill", "Analyze",
    "Execute", "Declare", "Cache", "Uncache", "Refresh", "Attach", "Detach", "Summarize",
    "LoadData", "Export", "Return", "Returning", "EndStatement",
)  # fmt: skip
_FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = tuple(
    cls for cls in (getattr(exp, name, None) for name in _FORBIDDEN_NODE_NAMES) if cls is not None
)

_STATEMENT_LABELS: dict[str, str] = {
    "TruncateTable": "TRUNCATE",
    "Transaction": "BEGIN",
    "Into": "SELECT INTO",
    "LoadData": "LOAD DATA",
    "EndStatement": "END",
}

_RELATION_PARENTS = (exp.From, exp.Join, exp.Lateral, exp.Table)

# "<Token token_type: TokenType.WHERE, text: where, line: 1, ...>" in parse errors -> "'where'"
_TOKEN_REPR = re.compile(r"<Token token_type: [^,]*, text: (.*?), line: [^>]*>")


class UnsafeSql(ValueError):
    """The SQL was refused. ``str(exc)`` is a one-line reason, safe to show and to feed back."""

    def __init__(self, reason: str) -> None:
        reason = " ".join(reason.split())
        if len(reason) > 300:
            reason = reason[:297] + "..."
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CheckedQuery:
    sql: str  # rendered from the checked tree (never the input text), no comments
    limit: int  # the LIMIT in force
    tables: frozenset[str]  # marts tables referenced, unqualified names


def check_sql(
    sql: str,
    *,
    allowed_tables: Collection[str],
    limit: int,
    schema: str = DEFAULT_SCHEMA,
) -> CheckedQuery:
    """Check one LLM-written query and return it re-rendered with a LIMIT enforced.

    Raises :class:`UnsafeSql` with a one-line reason when anything is not allowed.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer, got {limit!r}")
    schema = schema.strip().lower()
    if not schema or schema.startswith("pg_") or schema == "information_schema":
        raise ValueError(f"schema {schema!r} cannot be used for analyst queries")
    allowed = frozenset(t.strip().lower() for t in allowed_tables)

    if len(sql) > MAX_SQL_CHARS:
        raise UnsafeSql(f"the query is too long ({len(sql)} characters, at most {MAX_SQL_CHARS})")

    root = _parse_single_statement(sql)
    _refuse_statements(root)
    _require_select_root(root, sql)

    tables: set[str] = set()
    # Collect first: rewriting table qualifiers while walking would mutate what is being walked.
    for node in list(root.walk()):
        if isinstance(node, exp.Table):
            name = _check_table(node, schema=schema, allowed=allowed)
            if name is not None:
                tables.add(name)
        elif isinstance(node, exp.Func):
            _check_function(node)
        elif isinstance(node, exp.DataType):
            _check_type(node)
        elif isinstance(node, exp.ByteString):
            raise UnsafeSql("escape string literals (E'...') are not allowed; use '...' instead")
        elif isinstance(node, exp.Column):
            _check_column(node)

    effective_limit = _enforce_limit(root, limit)
    rendered = root.sql(dialect=DIALECT, comments=False)
    return CheckedQuery(sql=rendered, limit=effective_limit, tables=frozenset(tables))


# --------------------------------------------------------------------------------------------
# Statement level
# --------------------------------------------------------------------------------------------


def _parse_single_statement(sql: str) -> exp.Expression:
    try:
        statements = sqlglot.parse(sql, read=DIALECT)
    except ParseError as exc:
        raise UnsafeSql(f"could not parse the SQL: {_parse_error_text(exc)}") from None
    except Exception as exc:  # tokenizer errors, recursion limits... all refusals
        raise UnsafeSql(f"could not parse the SQL: {type(exc).__name__}: {exc}") from None
    statements = [s for s in statements if s is not None and not isinstance(s, exp.Semicolon)]
    if not statements:
        raise UnsafeSql("no SQL statement found")
    if len(statements) > 1:
        raise UnsafeSql(f"only one statement is allowed, found {len(statements)}")
    return statements[0]


def _parse_error_text(exc: ParseError) -> str:
    if exc.errors:
        first = exc.errors[0]
        description = _TOKEN_REPR.sub(r"'\1'", str(first.get("description")))
        return f"{description} (line {first.get('line')}, column {first.get('col')})"
    return str(exc).splitlines()[0] if str(exc) else "syntax error"


def _refuse_statements(root: exp.Expression) -> None:
    for node in root.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise UnsafeSql(f"{_statement_label(node)} is not allowed")


def _statement_label(node: exp.Expression) -> str:
    name = type(node).__name__
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    if isinstance(node, exp.Lock):
        return "locking clause FOR " + ("UPDATE" if node.args.get("update") else "SHARE")
    if isinstance(node, (exp.Create, exp.Drop)):
        kind = node.args.get("kind")
        return f"{name.upper()} {str(kind).upper()}" if kind else name.upper()
    return _STATEMENT_LABELS.get(name, name.upper())


def _require_select_root(root: exp.Expression, sql: str) -> None:
    if _is_select_query(root):
        return
    raise UnsafeSql(
        f"{_first_keyword(sql)} is not allowed; only a SELECT query (with optional WITH and "
        "UNION/INTERSECT/EXCEPT) is"
    )


def _is_select_query(node: exp.Expression | None) -> bool:
    if isinstance(node, exp.Select):
        return True
    if isinstance(node, exp.Subquery):
        return _is_select_query(node.this)
    if isinstance(node, exp.SetOperation):
        return _is_select_query(node.this) and _is_select_query(node.expression)
    return False


def _first_keyword(sql: str) -> str:
    try:
        tokens = sqlglot.tokenize(sql, read=DIALECT)
    except Exception:
        return "this statement"
    for token in tokens:
        if token.text[:1].isalpha():
            return token.text.upper()
    return "this statement"


# --------------------------------------------------------------------------------------------
# Relations
# --------------------------------------------------------------------------------------------


def _check_table(table: exp.Table, *, schema: str, allowed: frozenset[str]) -> str | None:
    """Validate one relation; qualify it with ``schema`` when needed. Returns the marts name."""
    if table.args.get("rows_from"):
        raise UnsafeSql("ROWS FROM (...) is not allowed")
    this = table.this
    if isinstance(this, exp.Func):
        return None  # a function in FROM: refused (or, for unnest, allowed) by _check_function
    if not isinstance(this, exp.Identifier):
        raise UnsafeSql(f"relation {table.sql(dialect=DIALECT)} is not allowed")

    db, catalog = table.args.get("db"), table.args.get("catalog")
    shown = ".".join(part.name for part in (catalog, db, this) if part is not None)
    if catalog is not None:
        raise UnsafeSql(f"catalog-qualified relation {shown} is not allowed")
    name = _normalise(this)
    if db is None:
        if name in _visible_cte_names(table):
            return None
        if name in allowed:
            table.set("db", exp.to_identifier(schema))
            return name
        raise UnsafeSql(f"relation {shown} is not an allowed {schema} table")
    if not isinstance(db, exp.Identifier) or _normalise(db) != schema:
        raise UnsafeSql(f"relation {shown} is outside {schema}")
    if name not in allowed:
        raise UnsafeSql(f"relation {shown} is not an allowed {schema} table")
    return name


def _visible_cte_names(node: exp.Expression) -> set[str]:
    """CTE names that PostgreSQL would resolve an unqualified relation at ``node`` to.

    Scope matters: a CTE defined inside a subquery is not visible outside it, so treating every
    CTE name in the tree as "local" would let ``pg_user`` slip through to the system catalog.
    A CTE sees the earlier CTEs of its own WITH (all of them under WITH RECURSIVE).
    """
    names: set[str] = set()
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(parent, exp.With) and isinstance(child, exp.CTE):
            ctes = list(parent.expressions)
            if parent.args.get("recursive"):
                visible = ctes
            else:
                index = next(i for i, cte in enumerate(ctes) if cte is child)
                visible = ctes[:index]
            names.update(_cte_name(cte) for cte in visible)
        elif isinstance(parent, exp.Query):
            with_ = parent.args.get("with_") or parent.args.get("with")
            if with_ is not None and child is not with_:
                names.update(_cte_name(cte) for cte in with_.expressions)
        child, parent = parent, parent.parent
    return names


def _cte_name(cte: exp.CTE) -> str:
    alias = cte.args.get("alias")
    ident = alias.this if isinstance(alias, exp.TableAlias) else None
    return _normalise(ident) if isinstance(ident, exp.Identifier) else cte.alias.lower()


def _normalise(ident: exp.Identifier) -> str:
    """PostgreSQL folds unquoted identifiers to lower case; quoted ones are kept as written."""
    return ident.name if ident.quoted else ident.name.lower()


# --------------------------------------------------------------------------------------------
# Functions, types, columns
# --------------------------------------------------------------------------------------------


def _function_name(node: exp.Func) -> str:
    """Normalised lower-case PostgreSQL name of a function node."""
    if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)):
        this = node.this
        return (this.name if isinstance(this, exp.Expression) else str(this)).lower()
    cls_name = type(node).__name__
    if cls_name == "Pad":
        return "lpad" if node.args.get("is_left") else "rpad"
    if cls_name in _PG_NAMES:
        return _PG_NAMES[cls_name]
    return type(node).sql_name().lower()


def _is_allowed_function(node: exp.Func) -> bool:
    name = _function_name(node)
    if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)):
        return name in ALLOWED_FUNCTIONS
    return name in ALLOWED_FUNCTIONS or name in SYNTAX_FUNCTIONS


def _check_function(node: exp.Func) -> None:
    name = _function_name(node)
    parent = node.parent
    if isinstance(parent, exp.Dot) and node.arg_key == "expression":
        qualifier = parent.this.sql(dialect=DIALECT)
        raise UnsafeSql(f"schema-qualified function {qualifier}.{name} is not allowed")
    in_from = isinstance(parent, _RELATION_PARENTS) and node.arg_key in ("this", "rows_from")
    if in_from and not isinstance(node, exp.Unnest):
        raise UnsafeSql(f"table function {name} in FROM is not allowed (only unnest is)")
    if not _is_allowed_function(node):
        raise UnsafeSql(f"function {name} is not allowed")


def _check_type(node: exp.DataType) -> None:
    if isinstance(node, exp.ObjectIdentifier):
        raise UnsafeSql(f"cast to {node.sql(dialect=DIALECT)} is not allowed")
    kind = node.this
    kind_name = kind.name if isinstance(kind, exp.DataType.Type) else str(kind).upper()
    if kind_name not in ALLOWED_TYPES:
        raise UnsafeSql(f"type {node.sql(dialect=DIALECT)} is not allowed")


def _check_column(node: exp.Column) -> None:
    ident = node.this
    if (
        isinstance(ident, exp.Identifier)
        and not ident.quoted
        and not node.table
        and ident.name.lower() in _BARE_VALUE_FUNCTIONS
    ):
        raise UnsafeSql(f"function {ident.name.lower()} is not allowed")


# --------------------------------------------------------------------------------------------
# LIMIT
# --------------------------------------------------------------------------------------------


def _int_literal(node: exp.Expression | None) -> int | None:
    if isinstance(node, exp.Literal) and not node.is_string and str(node.this).isdigit():
        return int(node.this)
    return None


def _enforce_limit(root: exp.Expression, limit: int) -> int:
    """Put ``LIMIT min(existing, limit)`` on the outermost query (the whole set operation).

    A LIMIT that is not a plain integer literal (a subquery, an expression, ALL, NULL) is
    replaced by ``limit``; FETCH FIRST is rewritten as LIMIT. OFFSET must be a literal.
    """
    current = root.args.get("limit")
    if isinstance(current, exp.Fetch):
        existing = _int_literal(current.args.get("count"))
    elif isinstance(current, exp.Limit):
        existing = _int_literal(current.expression)
    else:
        existing = None
    effective = limit if existing is None else min(existing, limit)
    root.set("limit", exp.Limit(expression=exp.Literal.number(effective)))

    offset = root.args.get("offset")
    if offset is not None and _int_literal(offset.expression) is None:
        raise UnsafeSql("OFFSET must be a literal non-negative integer")
    return effective
