"""Validates OpenLineage run events (one JSON object per line on stdin) against the schema files
beside this script: each event against OpenLineage.json's RunEvent, each facet against the schema
its _schemaURL names. Prints one line per problem and exits 1 if there is any; else prints
`valid N`."""

import json
import sys
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

HERE = Path(__file__).parent
RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"

resources = []
for path in sorted(HERE.glob("*.json")):
    schema = json.loads(path.read_text())
    resources.append((schema["$id"], Resource.from_contents(schema)))
registry = Registry().with_resources(resources)
known = {uri for uri, _ in resources}


def problems(instance, schema_url, where):
    base = schema_url.split("#", 1)[0]
    if base not in known:
        return [f"{where}: no schema file for {schema_url}"]
    validator = Draft202012Validator(
        {"$ref": schema_url},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    return [
        f"{where}: {error.message} at /{'/'.join(map(str, error.absolute_path))}"
        for error in validator.iter_errors(instance)
    ]


def facets(event):
    yield "run", event.get("run", {}).get("facets", {})
    yield "job", event.get("job", {}).get("facets", {})
    for side in ("inputs", "outputs"):
        for i, dataset in enumerate(event.get(side, [])):
            yield f"{side}[{i}]", dataset.get("facets", {})


found = []
count = 0
for number, line in enumerate(sys.stdin, 1):
    if not line.strip():
        continue
    count += 1
    event = json.loads(line)
    found += problems(event, RUN_EVENT, f"event {number}")
    for where, named in facets(event):
        for name, facet in named.items():
            url = facet.get("_schemaURL", "")
            # a facet's schema defines it under its own name, e.g. {"parent": ParentRunFacet}
            found += problems({name: facet}, url.split("#", 1)[0], f"event {number} {where}.{name}")
            found += problems(facet, url, f"event {number} {where}.{name}")
for problem in found:
    print(problem)
if found:
    sys.exit(1)
print(f"valid {count}")
