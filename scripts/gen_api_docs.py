"""Write docs/api.md from the service's OpenAPI document (``tracelib_service.openapi``).

Run ``python scripts/gen_api_docs.py`` (default target ``docs/api.md``) after changing the API;
``tests/test_api_docs.py`` fails while docs/api.md differs from what this prints.
"""

# ruff: noqa: E501  (Markdown table rows and a shell example cannot wrap)

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tracelib_service.openapi import epcis_openapi_document, openapi_document
from tracelib_service.problems import STATUS

METHODS = ("get", "post", "put", "patch", "delete")

INTRO = """\
# The HTTP API

Generated from the service's OpenAPI document by `scripts/gen_api_docs.py`; do not edit by
hand. The document itself is served at `GET /api/v1/openapi.json` (OpenAPI {openapi}).

{description} Version {version}, licence {license}.

All API paths are under **`{server}`** on the host the service runs at (`tracelib serve`, see
[operations.md](operations.md#serving)), except the EPCIS 2.0 named queries and subscriptions,
under `/epcis` as the EPCIS 2.0 REST binding names them. Request and response bodies are UTF-8 JSON; hashes are
lowercase hex unless a field says otherwise. Proofs, checkpoints and what a shopper's scan
shows (a stall) are public; records and traces need a token with a read scope covering
them, and writes a token with `write` ([who may read what](contract.md#who-may-read-what)).
"""

AUTH = """\
## Authentication

A token goes in the `Authorization` header:

```text
Authorization: Bearer tlk_…
```

A token acts for exactly one registered party, with scopes (each operation below says which
it needs, under **Access**, and in the OpenAPI document as `security` and `x-tracelib-scope`):

| scope | what it allows |
|---|---|
| `write` | append events acting for the token's party |
| `read:own` | read the party's own books: events it signed or that name its locations, and one hop up and down the chain (its suppliers' and customers' events on the lots it handled, except their sales); traces of those lots, with other parties' quantities left out |
| `read:market` | as `read:own`, with every stall inside the markets the party holds (a market party only) |
| `read:all` | read everything (a regulator or the operator only) |

The operator issues tokens on the machine that holds the ledger; each is printed once (only
its SHA-256 is stored, in the service database). Without `--scope` a token gets `write` and
`read:own`; a token issued before tokens carried scopes keeps those two:

```sh
tracelib token issue stall-a01 --label "A01 till"
tracelib token issue market-1 --scope read:market
tracelib token issue amr-1 --scope read:all --label "inspector"
tracelib token list
```

```sh
curl -s -X POST https://trace.example.cn/api/v1/events \\
  -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
  -d '[{"id": "sale-a01-0003", "kind": "sale", "time": "2026-11-22T10:00:00+08:00", "actor": "stall-a01", "location": "stall-a01", "inputs": [{"lot": "LOT-CP-0001", "qty": "1", "unit": "kg"}], "data": {"receipt": "A01-0003"}}]'
```

- A missing, unknown or revoked token gives `401` with `WWW-Authenticate: Bearer realm="tracelib"`
  where a token is needed; a token that is sent is checked everywhere, so a bad one gives `401`
  on public endpoints too.
- A token without the scope an operation needs gives `403` with `code: insufficient_scope` and
  `WWW-Authenticate: Bearer error="insufficient_scope", scope="…"` (RFC 6750 §3.1); a read
  outside the token's reach (another party's books) gives `403` with `code: not_your_books`.
- Every event must have the token's party as its `actor`, or the whole request is refused with
  `403`.
- An event with a `sig` is checked against the actor's registered keys. An event without one
  is signed by the service with the party's *custodial* key when the service's keystore holds
  one; otherwise it is refused (`422`, `code: signature`): sign it yourself.
- A token is revoked with `tracelib token revoke TOKEN`.
"""

CONVENTIONS = """\
## Caching and content negotiation

Successful `GET` responses carry a strong `ETag` (a hash of the body) and
`Cache-Control: no-cache`: caches may keep them but must revalidate, and a request with a
matching `If-None-Match` gets `304 Not Modified`. Error responses carry
`Cache-Control: no-store`.

The pages a shopper's scan opens live outside `/api/v1` and are not part of the OpenAPI
document. They answer HTML to browsers and JSON to clients that send
`Accept: application/json` (or `?format=json`); `?lang=en` switches the HTML to English:

| page | what |
|---|---|
| `GET /s/<stall>` | the stall page (the stall's QR code); JSON is the same as `GET /api/v1/stalls/<stall>`; `?pay=<ref>` echoes a payment reference |
| `GET /s/<stall>/qr.png`, `GET /s/<stall>/qr.svg` | the stall's printable placard |
| `GET /l/<lot>` | the lot page |
| `GET /01/<gtin>/10/<lot>` | the lot page as a GS1 Digital Link; `?linkType=gs1:traceability` gives the trace, `gs1:epcis` redirects (307) to the lot's EPCIS query (`/epcis/events?MATCH_anyEPCClass=…`), `?linkType=linkset` the links (RFC 9264) |
| `GET /m/<market>/board` | the market's board (公示): the day's rapid tests, positives first with the action taken, the day's inspections and whether the market published before opening |
"""


def _anchor(name: str) -> str:
    return name.lower()


def _cell(text: str) -> str:
    """Table cell text: a literal ``|`` would end the cell (GFM)."""
    return text.replace("|", "\\|")


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return str(ref).rsplit("/", 1)[-1] if ref else None


def _type(schema: Mapping[str, Any]) -> str:
    """A short, linked description of a schema's type."""
    name = _ref_name(schema)
    if name is not None:
        return f"[{name}](#{_anchor(name)})"
    if "oneOf" in schema:
        return " or ".join(_type(s) for s in schema["oneOf"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(str(k) for k in kind)
    if kind == "array":
        items = schema.get("items")
        return f"array of {_type(items)}" if items else "array"
    return str(kind) if kind else "any"


def _notes(schema: Mapping[str, Any]) -> str:
    """Constraints and descriptions of a schema, in words."""
    notes: list[str] = []
    if "description" in schema:
        notes.append(str(schema["description"]))
    if "enum" in schema:
        notes.append("one of " + ", ".join(f"`{v}`" for v in schema["enum"]))
    if "default" in schema:
        notes.append(f"default `{schema['default']}`")
    if "format" in schema:
        notes.append(f"format `{schema['format']}`")
    if "pattern" in schema:
        notes.append(f"pattern `{schema['pattern']}`")
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low and high:
        notes.append(f"{low} to {high} characters")
    elif high:
        notes.append(f"at most {high} characters")
    elif low:
        notes.append(f"at least {low} character(s)")
    if "minimum" in schema and "maximum" in schema:
        notes.append(f"{schema['minimum']} to {schema['maximum']}")
    elif "minimum" in schema:
        notes.append(f"at least {schema['minimum']}")
    elif "maximum" in schema:
        notes.append(f"at most {schema['maximum']}")
    if "minItems" in schema and "maxItems" in schema:
        notes.append(f"{schema['minItems']} to {schema['maxItems']} items")
    elif "minItems" in schema:
        notes.append(f"at least {schema['minItems']} item(s)")
    if "contentEncoding" in schema:
        notes.append(str(schema["contentEncoding"]))
    return "; ".join(notes)


def _fields(schema: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    """Rows (field, type, required, notes) of an object schema; inline objects are flattened
    into dotted names, arrays of inline objects into ``name[].field``."""
    required = set(schema.get("required", ()))
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        yield (f"`{path}`", _type(sub), "yes" if name in required else "no", _notes(sub))
        if sub.get("type") == "object" and "properties" in sub:
            yield from _fields(sub, f"{path}.")
        items = sub.get("items")
        if sub.get("type") == "array" and isinstance(items, Mapping) and "properties" in items:
            yield from _fields(items, f"{path}[].")


def _table(schema: Mapping[str, Any]) -> list[str]:
    rows = list(_fields(schema))
    if not rows:
        return []
    lines = ["| field | type | required | notes |", "|---|---|---|---|"]
    lines += [f"| {_cell(f)} | {_cell(t)} | {r} | {_cell(n)} |" for f, t, r, n in rows]
    if schema.get("additionalProperties") is False:
        lines.append("")
        lines.append("No other fields are accepted.")
    return lines


def _body(schema: Mapping[str, Any]) -> list[str]:
    """A request or response body: a link, a field table, or its alternatives."""
    if _ref_name(schema) is not None:
        return [f"A {_type(schema)}."]
    if "oneOf" in schema:
        out = ["One of:", ""]
        for alternative in schema["oneOf"]:
            if "properties" in alternative:
                fields = ", ".join(f"`{k}`" for k in alternative["properties"])
                out.append(f"- an object with {fields}:")
                out.append("")
                out += ["  " + line if line else "" for line in _table(alternative)]
                out.append("")
            else:
                out.append(f"- {_type(alternative)}" + (f" ({_notes(alternative)})"
                                                        if _notes(alternative) else ""))
        return out
    if "properties" in schema:
        return _table(schema)
    return [f"{_type(schema)}."]


def _parameters(params: list[Mapping[str, Any]]) -> list[str]:
    if not params:
        return []
    lines = ["| parameter | in | type | required | notes |", "|---|---|---|---|---|"]
    for p in params:
        schema = p.get("schema", {})
        example = f"example `{p['example']}`" if "example" in p else ""
        notes = "; ".join(x for x in (p.get("description", ""), _notes(schema), example) if x)
        lines.append(f"| `{p['name']}` | {p['in']} | {_cell(_type(schema))} | "
                     f"{'yes' if p.get('required') else 'no'} | {_cell(notes)} |")
    return lines


def _responses(responses: Mapping[str, Any], doc: Mapping[str, Any]) -> list[str]:
    lines = ["| status | meaning | body |", "|---|---|---|"]
    shared = doc["components"].get("responses", {})
    for status, response in responses.items():
        name = _ref_name(response)
        if name is not None:  # a reference's own description wins (OpenAPI 3.1 §4.8.23)
            response = {**shared[name], **{k: v for k, v in response.items() if k != "$ref"}}
        media = response.get("content", {})
        bodies = []
        for media_type, content in media.items():
            schema = content.get("schema", {})
            kind = _type(schema) if (_ref_name(schema) or "properties" not in schema) \
                else "see below"
            bodies.append(f"`{media_type}`: {kind}")
        lines.append(f"| {status} | {_cell(response.get('description', ''))} | "
                     f"{'; '.join(bodies) or 'none'} |")
    inline = [(status, content["schema"])
              for status, response in responses.items() if not _ref_name(response)
              for content in response.get("content", {}).values()
              if "properties" in content.get("schema", {})]
    seen: list[str] = []
    for _status, schema in inline:
        key = json.dumps(schema, sort_keys=True)
        if key in seen:
            continue
        seen.append(key)
        codes = [s for s, sch in inline if json.dumps(sch, sort_keys=True) == key]
        lines += ["", f"Body of {' and '.join(codes)}:", "", *_table(schema)]
    return lines


def _scopes(op: Mapping[str, Any], sep: str = ", ") -> str:
    """The scopes an operation accepts (``x-tracelib-scope``), or "" when it is public."""
    return sep.join(f"`{s}`" for s in op.get("x-tracelib-scope", []))


def _operations(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(the path with its server's prefix, method, operation) of every operation: a path
    item with ``servers`` of its own (the EPCIS paths under /epcis) is shown under it."""
    for path, item in doc["paths"].items():
        server = item.get("servers", doc["servers"])[0]["url"]
        for method in METHODS:
            if method in item:
                yield server + path, method, item[method]


def _errors() -> list[str]:
    lines = ["## Errors", "",
             "Every error is an RFC 9457 problem document, `application/problem+json` "
             "(see [Problem](#problem)):", "",
             "```json",
             '{"type": "about:blank", "status": 422, "title": "Validation failed", '
             '"code": "validation",',
             ' "detail": "line 1, event \'sale-a02-0001\', field \'inputs[0].lot\': lot '
             '\'LOT-CP-0001\' is on hold at \'stall-a02\' (…); it cannot be sold until released",',
             ' "field": "inputs[0].lot", "line": 1, "event_id": "sale-a02-0001", '
             '"instance": "/api/v1/events"}',
             "```", "",
             "`line` is the 1-based position of the event in the request. A rejected event "
             "rejects its whole request: nothing is stored.", "",
             "| status | `code` | when |", "|---|---|---|"]
    rows = [(400, "`bad_request`", "a malformed body or query parameter (`field` names it)"),
            (401, "—", "no valid API token"),
            (403, "—", "an event acts for another party than the token's"),
            (404, "—", "no such route"),
            (413, "—", "the body is larger than `MAX_CONTENT_LENGTH`"),
            (415, "—", "the body is not `application/json`")]
    when = {"signature": "a signature does not verify, or a key may not sign",
            "validation": "an event or a parameter breaks a rule (`field`, `line`, `event_id`)",
            "conflict": "an event id is already stored with other content",
            "not_found": "an unknown event, lot, stall, seq or tree size",
            "integrity": "the ledger failed an integrity check (`seq`); run `tracelib verify`",
            "proof": "the store cannot build a proof",
            "ledger": "any other ledger error",
            "unavailable": "the server's state, not the request: the database's disk is full, "
                           "its connection was lost, its server does not answer, it does not "
                           "exist or is read-only, or it holds bytes tracelib never wrote; "
                           "`reason` is `full`, `lost`, `unreachable`, `missing`, `read_only` "
                           "or `corrupt`; nothing was stored; `Retry-After: 30`"}
    rows += [(status, f"`{code}`", f"{when.get(code, cls.__name__)} (`{cls.__name__}`)")
             for cls, status, code in STATUS]
    lines += [f"| {status} | {code} | {text} |"
              for status, code, text in sorted(rows, key=lambda row: (row[0], row[1] != "—",
                                                                      row[1]))]
    return lines


def _operation_docs(doc: Mapping[str, Any]) -> list[str]:
    """Each operation of ``doc`` as a section."""
    out: list[str] = []
    for path, method, op in _operations(doc):
        lines = [f"### {method.upper()} {path}", "", f"**{op['summary']}.**"
                 + (f" {op['description']}" if op.get("description") else ""), "",
                 f"Operation id `{op['operationId']}`. Token: "
                 + (f"**required** (Bearer), with {_scopes(op, ' or ')}." if _scopes(op)
                    else "not needed."), ""]
        params = _parameters(op.get("parameters", []))
        if params:
            lines += ["Parameters:", "", *params, ""]
        body = op.get("requestBody")
        if body:
            for media_type, content in body["content"].items():
                lines += [f"Request body (`{media_type}`"
                          + (", required" if body.get("required") else "") + ")"
                          + (f": {body['description']}." if body.get("description") else ":"),
                          "", *_body(content["schema"]), ""]
                if "example" in content:
                    lines += ["Example:", "", "```json",
                              json.dumps(content["example"], ensure_ascii=False, indent=2),
                              "```", ""]
        lines += ["Responses:", "", *_responses(op["responses"], doc), ""]
        out.append("\n".join(lines))
    return out


def _index(doc: Mapping[str, Any]) -> list[str]:
    index = ["| method | path | summary | token |", "|---|---|---|---|"]
    for path, method, op in _operations(doc):
        heading = f"{method.upper()} {path}"
        anchor = heading.lower().replace(" ", "-").replace("/", "").replace("{", "") \
            .replace("}", "").replace(".", "")
        index.append(f"| {method.upper()} | [`{path}`](#{anchor}) | {op['summary']} | "
                     f"{_scopes(op) or 'no'} |")
    return index


EPCIS_INTRO = """\
## EPCIS 2.0 query

The GS1 EPCIS 2.0 REST binding's queries live beside the API, under **`/epcis`**
([contract](contract.md#epcis-query)); their own OpenAPI document is served at
`GET /epcis/openapi.json`. Every answer carries `GS1-EPCIS-Version: 2.0.0` and
`GS1-CBV-Version: 2.0.0`; events come as an `EPCISQueryDocument` (`application/ld+json`),
`perPage` at a time, with `Link: <…>; rel="next"` (from the configured public URL) while more
may follow.
"""


def render() -> str:
    doc = openapi_document()
    server = doc["servers"][0]["url"]
    info = doc["info"]
    parts: list[str] = [INTRO.format(openapi=doc["openapi"], description=info["description"],
                                     version=info["version"], license=info["license"]["name"],
                                     server=server)]
    parts.append("\n".join(["## Endpoints", "", *_index(doc)]) + "\n")
    parts.append(AUTH)
    parts += _operation_docs(doc)
    epcis = epcis_openapi_document()
    parts.append(EPCIS_INTRO + "\n" + "\n".join(_index(epcis)) + "\n")
    parts += _operation_docs(epcis)
    parts.append("\n".join(_errors()) + "\n")
    parts.append(CONVENTIONS)
    schemas = ["## Schemas", ""]
    for name, schema in doc["components"]["schemas"].items():
        schemas += [f"### {name}", ""]
        if schema.get("description"):
            schemas += [f"{schema['description']}.", ""]
        table = _table(schema)
        schemas += [*(table or [f"{_type(schema)}."]), ""]
    parts.append("\n".join(schemas))
    return "\n".join(parts).rstrip("\n") + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/api.md")
    target.write_text(render(), encoding="utf-8")
