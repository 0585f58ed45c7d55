#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Helpers of tests/e2e/serve.sh (standard library, python3-yaml, python3-jsonschema):

  serve_check.py sse FILE                 parse a Server-Sent Events stream: one JSON line
                                          {"stdout": text, "stderr": text, "log": text,
                                           "stdout_len", "exit": {...} or null, "end":
                                           {...} or null, "ids": [...], "events": n}
  serve_check.py sse-after FILE ID        the stdout of the events after id ID
  serve_check.py shape API.YAML UPSTREAM.json
                                          docs/api.yaml has every operation of the upstream
                                          shape with at least its parameters and statuses,
                                          every schema with the same required fields and
                                          its properties (more only where the schema says
                                          x-boxlite-differs), the same enums
  serve_check.py contract API.YAML LOG    every response recorded in LOG (lines "METHOD PATH
                                          STATUS BODYFILE") checked against the document:
                                          the path and method exist, the status is one the
                                          operation declares, a JSON body validates against
                                          the declared schema. Prints one line per problem
                                          and "N responses checked"; exit 1 on a problem.
"""
import base64
import json
import re
import sys
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)


def parse_sse(path):
    events, cur = [], {}
    with open(path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    for line in text.split("\n"):
        if line == "":
            if cur:
                events.append(cur)
            cur = {}
            continue
        if line.startswith(":"):
            continue
        k, _, v = line.partition(":")
        v = v[1:] if v.startswith(" ") else v
        cur[k] = cur.get(k, "") + v if k == "data" else v
    if cur:
        events.append(cur)
    return events


def summary(events):
    out = {"stdout": b"", "stderr": b"", "log": b"", "exit": None, "end": None, "ids": [],
           "events": len(events)}
    for e in events:
        i = e.get("id", "0")
        out["ids"].append(int(i) if i.isdigit() else i)  # a log's ids are positions
        d = json.loads(e.get("data", "{}"))
        if e.get("event") in ("stdout", "stderr", "log"):
            out[e["event"]] += base64.b64decode(d["data"])
        elif e.get("event") in ("exit", "end"):
            out[e["event"]] = d
    return out


def cmd_sse(path):
    s = summary(parse_sse(path))
    s["stdout_len"] = len(s["stdout"])
    for k in ("stdout", "stderr", "log"):
        s[k] = s[k].decode("utf-8", "replace")
    print(json.dumps(s))


def cmd_sse_after(path, after):
    data = b""
    for e in parse_sse(path):
        if e.get("event") == "stdout" and int(e.get("id", "0")) > int(after):
            data += base64.b64decode(json.loads(e["data"])["data"])
    sys.stdout.buffer.write(data)


def cmd_contract(api_path, log_path):
    import yaml
    import jsonschema

    with open(api_path) as f:
        doc = yaml.safe_load(f)
    resolver = jsonschema.RefResolver.from_schema(doc)

    def resolve(o):
        while isinstance(o, dict) and "$ref" in o:
            o = resolver.resolve(o["$ref"])[1]
        return o

    templates = []
    for p in doc["paths"]:
        rx = "^/v1" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"
        templates.append((p, re.compile(rx)))
    # literal segments win over parameters (/boxes/import before /boxes/{box_id})
    templates.sort(key=lambda t: t[0].count("{"))
    problems, checked = 0, 0
    for line in open(log_path):
        method, path, status, body = line.split()
        checked += 1
        path = path.split("?")[0]
        tmpl = next((t for t, rx in templates if rx.match(path)), None)
        op = doc["paths"][tmpl].get(method.lower()) if tmpl else None
        # a path or method the document lacks is fine only when the server refused it
        if op is None and not ((tmpl is None and status == "404") or
                               (tmpl is not None and status == "405")):
            print(f"contract: {method} {path}: not in the document, answered {status}")
            problems += 1
            continue
        resp = op["responses"].get(status) if op else None
        if resp is None:
            # statuses every operation may answer (docs/api.yaml responses): the error model
            # (422: an Idempotency-Key used for another request, on any operation taking one)
            if status in ("400", "401", "403", "404", "405", "409", "413", "422", "429", "500", "501", "503"):
                resp = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
            else:
                print(f"contract: {method} {tmpl}: status {status} not declared")
                problems += 1
                continue
        resp = resolve(resp)
        content = resp.get("content", {})
        if "application/json" not in content:
            continue
        schema = resolve(content["application/json"]["schema"])
        try:
            with open(body) as f:
                inst = json.load(f)
            jsonschema.Draft202012Validator(schema, resolver=resolver).validate(inst)
        except Exception as e:  # noqa: BLE001 - any failure is the finding
            msg = str(e).split("\n")[0]
            print(f"contract: {method} {path} {status}: {msg}")
            problems += 1
    print(f"{checked} responses checked, {problems} problems")
    return 1 if problems or not checked else 0


def cmd_shape(api_path, shape_path):
    import yaml

    with open(api_path) as f:
        doc = yaml.safe_load(f)
    with open(shape_path) as f:
        up = json.load(f)
    comps = doc["components"]
    problems, checked = [], 0

    def param_name(p):
        if "$ref" in p:
            p = comps["parameters"][p["$ref"].split("/")[-1]]
        return p["name"]

    for path, ops in up["operations"].items():
        ours = doc["paths"].get(path)
        if ours is None:
            problems.append(f"{path}: missing")
            continue
        shared = [param_name(p) for p in ours.get("parameters", [])]
        for m, want in ops.items():
            checked += 1
            op = ours.get(m)
            if op is None:
                problems.append(f"{m.upper()} {path}: missing")
                continue
            names = set(shared + [param_name(p) for p in op.get("parameters", [])])
            for n in want["parameters"]:
                if n not in names:
                    problems.append(f"{m.upper()} {path}: parameter {n} missing")
            for st in want["statuses"]:
                if st not in op["responses"]:
                    problems.append(f"{m.upper()} {path}: status {st} missing")
    for name, want in up["schemas"].items():
        checked += 1
        s = comps["schemas"].get(name)
        if s is None:
            problems.append(f"schema {name}: missing")
            continue
        props = set(s.get("properties", {}))
        if sorted(s.get("required", [])) != sorted(want["required"]):
            problems.append(f"schema {name}: required {s.get('required', [])} != {want['required']}")
        for p in want["properties"]:
            if p not in props:
                problems.append(f"schema {name}: property {p} missing")
        extra = props - set(want["properties"])
        if extra and "x-boxlite-differs" not in s:
            problems.append(f"schema {name}: properties {sorted(extra)} not upstream's and not explained")
    for name, values in up["enums"].items():
        checked += 1
        if comps["schemas"].get(name, {}).get("enum") != values:
            problems.append(f"enum {name}: differs")
    for p in problems:
        print("shape: " + p)
    print(f"{checked} operations, schemas and enums compared, {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[:1] == ["sse"]:
        cmd_sse(a[1])
    elif a[:1] == ["sse-after"]:
        cmd_sse_after(a[1], a[2])
    elif a[:1] == ["shape"]:
        sys.exit(cmd_shape(a[1], a[2]))
    elif a[:1] == ["contract"]:
        sys.exit(cmd_contract(a[1], a[2]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
