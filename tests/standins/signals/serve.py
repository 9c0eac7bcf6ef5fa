"""A stand-in for the Signals API and the Console's token endpoint, for tests/signals.rs.

Python 3 standard library only. Usage: serve.py STATE_DIR (a stand-in as
tests/standins/standin.py describes). STATE_DIR holds:
- groups.json    {"snowflake": [group, ...], "bigquery": [...], "databricks": [...],
                 "objects": [...]}: the groups with properties as strings in each warehouse's
                 syntax (the listing and a read with ?property_syntax=), and in the API's own
                 object form (a read without it; what the write calls replace). Without
                 "objects" the snowflake list stands for them. Read once.
- config.json    optional, read on every request: credentials (api_key, api_key_id, org_id,
                 sandbox_token), token_ttl (seconds), healthy (bool), refuse_new (404 or 405: an
                 API older than the SDK 0.4.10 routes, whose read-by-name, POST and PUT calls
                 answer so), fail ([{method, path_prefix, status, body}]: answer so instead),
                 delay ([{method, path_prefix, seconds}]: sleep before answering)
- requests.jsonl written: one line per request (method, path, query, headers, body, status,
                 answer)

Answers as the real API does as far as it is known (docs/signals.md):
HS256 JWTs with exp from the Console route, bearer checks (a sandbox token or an unexpired JWT
signed by this server), FastAPI-style 422 {"detail": [{"loc", "msg", "type"}]} (checked before
anything else, as FastAPI does), 404 for unknown groups, 307 for the listing without its
trailing slash. The SDK 0.4.10 routes: a group read by name (the highest version) or by version;
POST of a whole group, 400 when its version exists; PUT of a whole group to its version. The
older routes: the batch_source sub-resource (schema under `wh_schema`) and engines/publish,
answering "nothing to publish" when nothing changed since the last publish; /health-all healthy
or not. Stricter than the API is known to be, so a test sees a stray field: a written group may
hold only the fields of the SDK's input model (AttributeGroupInput, AttributeKeyInput), its
batch source only the SDK's BatchSource fields, and properties only as objects.
"""

import base64
import hashlib
import hmac
import json
import os
import pathlib
import re
import secrets
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
import standin  # noqa: E402

STATE = sys.argv[1]
SIGNING_KEY = secrets.token_bytes(32)
LOCK = threading.Lock()
DEFAULTS = {
    "api_key": "test-api-key",
    "api_key_id": "test-api-key-id",
    "org_id": "test-org",
    "sandbox_token": "test-sandbox-token",
    "token_ttl": 3600,
    "healthy": True,
    "fail": [],
    "delay": [],
}
with open(os.path.join(STATE, "groups.json")) as f:
    GROUPS = json.load(f)
SYNTAXES = ("snowflake", "bigquery", "databricks")
NAME = re.compile(r"^[A-Za-z0-9_]+$")
DATABASE = re.compile(r"^[A-Za-z0-9_-]+$")
GROUP_FIELDS = {"name", "version", "attribute_key", "ttl", "batch_source", "online", "offline",
                "description", "owner", "fields", "attributes", "is_published",
                "backfill_since_tstamp", "refresh_rate"}
KEY_FIELDS = {"name", "description", "key", "external_column", "property", "owner", "ttl",
              "is_published"}
SOURCE_FIELDS = {"name", "timestamp_field", "description", "owner", "database", "schema", "table"}
# (name, version) -> the group in object form, as the write calls leave it
REGISTRY = {(g["name"], g["version"]): g for g in GROUPS.get("objects", GROUPS.get("snowflake", []))}
# (name, version) -> the batch source last set (either route); and the sources as last published
SOURCES = {}
PUBLISHED = {}


def config():
    merged = dict(DEFAULTS)
    try:
        with open(os.path.join(STATE, "config.json")) as f:
            merged.update(json.load(f))
    except FileNotFoundError:
        pass
    return merged


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_jwt(cfg):
    now = int(time.time())
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps({
        "sub": cfg["api_key_id"], "org": cfg["org_id"], "iat": now,
        "exp": now + int(cfg["token_ttl"]), "jti": str(uuid.uuid4()),
    }).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = b64url(hmac.new(SIGNING_KEY, signing_input, hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


def jwt_valid(token):
    try:
        header, payload, signature = token.split(".")
        expected = b64url(hmac.new(SIGNING_KEY, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, signature):
            return False
        return json.loads(b64url_decode(payload))["exp"] > time.time()
    except Exception:
        return False


def error(loc, msg, kind, value=None):
    item = {"loc": loc, "msg": msg, "type": kind}
    if value is not None:
        item["input"] = value
    return item


def validate_source(body, loc_prefix=("body",), schema_key="wh_schema"):
    """The API model's rules: required strings, no empty ones, the name patterns. The schema is
    under `schema_key`: `wh_schema` on the sub-resource, `schema` in a whole group."""
    errors = []
    loc_prefix = list(loc_prefix)
    if not isinstance(body, dict):
        return [error(loc_prefix, "Input should be a valid dictionary", "dict_type")]
    if schema_key == "schema":
        errors += extra_fields(body, SOURCE_FIELDS, loc_prefix)
    elif "wh_schema" in body and "schema" not in body:
        body = dict(body, schema=body["wh_schema"])
    for field, pattern in (("name", NAME), ("timestamp_field", NAME), ("schema", NAME),
                           ("table", NAME), ("database", DATABASE)):
        loc = loc_prefix + [schema_key if field == "schema" else field]
        if field not in body or body[field] is None:
            errors.append(error(loc, "Field required", "missing"))
        elif not isinstance(body[field], str):
            errors.append(error(loc, "Input should be a valid string", "string_type", body[field]))
        elif body[field] == "":
            errors.append(error(loc, "String should have at least 1 character", "string_too_short", ""))
        elif not pattern.match(body[field]):
            errors.append(error(loc, f"String should match pattern '{pattern.pattern}'",
                                "string_pattern_mismatch", body[field]))
    for field in ("description", "owner"):
        value = body.get(field)
        if value is not None and not isinstance(value, str):
            errors.append(error(loc_prefix + [field], "Input should be a valid string", "string_type", value))
        elif value == "":
            errors.append(error(loc_prefix + [field], "String should have at least 1 character", "string_too_short", ""))
    return errors


def extra_fields(body, allowed, loc_prefix):
    return [error(list(loc_prefix) + [key], "Extra inputs are not permitted", "extra_forbidden", body[key])
            for key in body if key not in allowed]


def validate_group(body):
    """A whole group as the SDK's input model takes it (see the module's note on strictness)."""
    if not isinstance(body, dict):
        return [error(["body"], "Input should be a valid dictionary", "dict_type")]
    errors = extra_fields(body, GROUP_FIELDS, ["body"])
    name = body.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        errors.append(error(["body", "name"], f"String should match pattern '{NAME.pattern}'",
                            "string_pattern_mismatch", name))
    if not isinstance(body.get("version", 1), int):
        errors.append(error(["body", "version"], "Input should be a valid integer", "int_type"))
    key = body.get("attribute_key")
    if not isinstance(key, dict) or not isinstance(key.get("name"), str):
        errors.append(error(["body", "attribute_key"], "Field required", "missing"))
    else:
        errors += extra_fields(key, KEY_FIELDS, ["body", "attribute_key"])
    if body.get("batch_source") is not None:
        errors += validate_source(body["batch_source"], ("body", "batch_source"), "schema")
    for i, attribute in enumerate(body.get("attributes") or []):
        criteria = (attribute.get("criteria") or {}) if isinstance(attribute, dict) else {}
        wheres = [(["property"], attribute)] + [
            ([part, j, "property"], c) for part in ("all", "any")
            for j, c in enumerate(criteria.get(part) or [])]
        for loc, holder in wheres:
            value = holder.get("property") if isinstance(holder, dict) else None
            if value is not None and not isinstance(value, dict):
                errors.append(error(["body", "attributes", i] + (loc if loc == ["property"] else ["criteria"] + loc),
                                    "Input should be a valid dictionary or object", "model_attributes_type", value))
    if not isinstance(body.get("is_published", False), bool):
        errors.append(error(["body", "is_published"], "Input should be a valid boolean", "bool_type"))
    return errors


def find_group(name, version):
    return REGISTRY.get((name, version))


def with_source(group):
    """A group as read: with the batch source last set by either route."""
    ref = (group.get("name"), group.get("version"))
    return dict(group, batch_source=SOURCES[ref]) if ref in SOURCES else group


def as_output(group):
    """A written group as the API answers it: with the fields it derives."""
    full = f"{group['name']}_v{group.get('version', 1)}"
    return dict(group, full_name=full, feast_name=full, stream_source_name=None,
                attribute_key_or_name=group["attribute_key"]["name"],
                attribute_group_or_attribute_key_ttl=group.get("ttl"))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        url = urlsplit(self.path)
        cfg = config()
        status, answer, extra = self.route(cfg, url.path, parse_qs(url.query), body)
        for rule in cfg["delay"]:
            if rule["method"] == self.command and url.path.startswith(rule["path_prefix"]):
                time.sleep(float(rule["seconds"]))
        data = (answer if isinstance(answer, str) else json.dumps(answer)).encode()
        with LOCK, open(os.path.join(STATE, "requests.jsonl"), "a") as log:
            log.write(json.dumps({
                "method": self.command, "path": url.path, "query": url.query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body, "status": status, "answer": data.decode(),
            }) + "\n")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def route(self, cfg, path, query, body):
        for rule in cfg["fail"]:
            if rule["method"] == self.command and path.startswith(rule["path_prefix"]):
                return rule["status"], rule.get("body", {"detail": "Internal Server Error"}), {}
        token_route = re.fullmatch(r"/api/msc/v1/organizations/([^/]+)/credentials/v3/token", path)
        if token_route and self.command == "GET":
            return self.token(cfg, unquote(token_route.group(1)))
        if path == "/health-all" and self.command == "GET":
            healthy = cfg["healthy"]
            return (200 if healthy else 503), {
                "status": "ok" if healthy else "error",
                "dependencies": {"storage": "ok" if healthy else "error", "registry": "ok"},
            }, {}
        if not path.startswith("/api/v1/"):
            return 404, {"detail": "Not Found"}, {}
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return 403, {"detail": "Not authenticated"}, {}
        token = auth[len("Bearer "):]
        if token != cfg["sandbox_token"] and not jwt_valid(token):
            return 401, {"detail": "Could not validate credentials"}, {}
        if path == "/api/v1/registry/attribute_groups" and self.command == "GET":
            return 307, "", {"Location": path + "/"}
        if path == "/api/v1/registry/attribute_groups/" and self.command == "GET":
            syntax = query.get("property_syntax", ["snowflake"])[0]
            if syntax not in SYNTAXES:
                return 422, {"detail": [error(["query", "property_syntax"],
                                              "Input should be 'snowflake', 'bigquery' or 'databricks'",
                                              "enum", syntax)]}, {}
            return 200, [with_source(group) for group in GROUPS.get(syntax, [])], {}
        new_route = self.new_route(cfg, path, query, body)
        if new_route is not None:
            return new_route
        source_route = re.fullmatch(r"/api/v1/registry/attribute_groups/([^/]+)/versions/([^/]+)/batch_source", path)
        if source_route and self.command == "PUT":
            return self.put_source(unquote(source_route.group(1)), source_route.group(2), body)
        if path == "/api/v1/engines/publish" and self.command == "POST":
            return self.publish(body)
        return 404, {"detail": "Not Found"}, {}

    def new_route(self, cfg, path, query, body):
        """The SDK 0.4.10 calls, or None if `path` is none of them."""
        read = re.fullmatch(r"/api/v1/registry/attribute_groups/([^/]+)(?:/versions/([^/]+))?", path)
        create = path == "/api/v1/registry/attribute_groups/" and self.command == "POST"
        if not create and not (read and self.command in ("GET", "PUT")):
            return None
        if self.command == "PUT" and not read.group(2):
            return None
        if cfg.get("refuse_new"):
            status = int(cfg["refuse_new"])
            return status, {"detail": "Not Found" if status == 404 else "Method Not Allowed"}, {}
        if create:
            return self.write_group(None, None, body)
        name, version_text = unquote(read.group(1)), read.group(2)
        version = None
        if version_text is not None:
            try:
                version = int(version_text)
            except ValueError:
                return 422, {"detail": [error(["path", "version"], "Input should be a valid integer",
                                              "int_parsing", version_text)]}, {}
        if self.command == "PUT":
            return self.write_group(name, version, body)
        return self.read_group(name, version, query)

    def read_group(self, name, version, query):
        syntax = query.get("property_syntax", [None])[0]
        if syntax is not None and syntax not in SYNTAXES:
            return 422, {"detail": [error(["query", "property_syntax"],
                                          "Input should be 'snowflake', 'bigquery' or 'databricks'",
                                          "enum", syntax)]}, {}
        groups = GROUPS.get(syntax, []) if syntax else list(REGISTRY.values())
        found = [g for g in groups if g.get("name") == name and version in (None, g.get("version"))]
        if not found:
            which = f"{name} version {version}" if version is not None else name
            return 404, {"detail": f"Attribute group {which} not found"}, {}
        return 200, with_source(max(found, key=lambda g: g["version"])), {}

    def write_group(self, name, version, body):
        """POST (name None: create, 400 if the version exists) or PUT (replace, 404 if not)."""
        try:
            group = json.loads(body)
        except ValueError:
            return 422, {"detail": [error(["body"], "JSON decode error", "json_invalid")]}, {}
        errors = validate_group(group)
        if errors:
            return 422, {"detail": errors}, {}
        group.setdefault("version", 1)
        ref = (group["name"], group["version"])
        if name is not None and ref != (name, version):
            return 400, {"detail": f"The body is {ref[0]} version {ref[1]}, the path {name} version {version}"}, {}
        with LOCK:
            exists = ref in REGISTRY
            if name is None and exists:
                return 400, {"detail": f"Attribute group {ref[0]} version {ref[1]} already exists"}, {}
            if name is not None and not exists:
                return 404, {"detail": f"Attribute group {ref[0]} version {ref[1]} not found"}, {}
            REGISTRY[ref] = group
            if group.get("batch_source") is not None:
                SOURCES[ref] = group["batch_source"]
        return (201 if name is None else 200), as_output(group), {}

    def token(self, cfg, org):
        if (self.headers.get("X-API-Key-Id") != cfg["api_key_id"]
                or self.headers.get("X-API-Key") != cfg["api_key"]):
            return 401, {"message": "Invalid API key"}, {}
        if org != cfg["org_id"]:
            return 403, {"message": "The API key has no access to this organization"}, {}
        return 200, {"accessToken": issue_jwt(cfg)}, {}

    def put_source(self, name, version_text, body):
        try:
            version = int(version_text)
        except ValueError:
            return 422, {"detail": [error(["path", "version"],
                                          "Input should be a valid integer, unable to parse string as an integer",
                                          "int_parsing", version_text)]}, {}
        try:
            source = json.loads(body)
        except ValueError:
            return 422, {"detail": [error(["body"], "JSON decode error", "json_invalid")]}, {}
        errors = validate_source(source)
        if errors:
            return 422, {"detail": errors}, {}
        group = find_group(name, version)
        if group is None:
            return 404, {"detail": f"Attribute group {name} version {version} not found"}, {}
        with LOCK:
            SOURCES[(name, version)] = source
        return 200, dict(group, batch_source=source), {}

    def publish(self, body):
        try:
            request = json.loads(body)
            items = request["attribute_groups"]
            refs = [(item["name"], int(item["version"])) for item in items]
        except (ValueError, KeyError, TypeError):
            return 422, {"detail": [error(["body", "attribute_groups"], "Field required", "missing")]}, {}
        for name, version in refs:
            if find_group(name, version) is None:
                return 404, {"detail": f"Attribute group {name} version {version} not found"}, {}
        changed = False
        with LOCK:
            for ref in refs:
                current = SOURCES.get(ref)
                if ref not in PUBLISHED or PUBLISHED[ref] != current:
                    PUBLISHED[ref] = current
                    changed = True
        return 200, {"status": "published" if changed else "nothing to publish"}, {}


if __name__ == "__main__":
    standin.exit_with_parent()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    standin.ready(server.server_address[1])
    server.serve_forever()
