#!/usr/bin/env bash
# `make lowest`: are the lower bounds in pyproject.toml true? In a fresh venv, install the
# lowest version allowed of every dependency of the library and of its service, reports and
# postgres extras (binary wheels only; what they depend on in turn at its newest), then check
# against them: the README's library example, `tracelib serve` answering, and a short test
# selection (append, verify, trace, canonical JSON, migrations, the CLI, the drill report,
# the service app; on PostgreSQL too when TRACELIB_TEST_PG's server answers).
#
#   TRACELIB_LOWEST_DIR   work folder [build/lowest], made anew
#   TRACELIB_LOWEST_PINS  requirements added to the declared ones, e.g. "marshmallow==4.3.1"
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=${TRACELIB_LOWEST_DIR:-$here/build/lowest}
python=${PYTHON:-python3}
started=$SECONDS

rm -rf "$work" && mkdir -p "$work"
uv=$(command -v uv || true)
if [ -z "$uv" ]; then
    "$python" -m venv "$work/tools"
    "$work/tools/bin/python" -m pip install --quiet uv
    uv="$work/tools/bin/uv"
fi

# The declared requirements, resolved to the lowest version of each (binary wheels only).
"$python" - "$here/pyproject.toml" > "$work/declared.txt" <<'EOF'
import os
import sys
import tomllib

project = tomllib.load(open(sys.argv[1], "rb"))["project"]
extras = project["optional-dependencies"]
print("\n".join([*project["dependencies"], *extras["service"], *extras["reports"],
                 *extras["postgres"], *os.environ.get("TRACELIB_LOWEST_PINS", "").split()]))
EOF
"$uv" --quiet pip compile "$work/declared.txt" --resolution lowest-direct --only-binary :all: \
    --python-version 3.11 --no-header --no-annotate --output-file "$work/resolved.txt"

# Each lower bound must be what got installed: a bound below it would be a claim untested.
"$python" - "$work/declared.txt" "$work/resolved.txt" > "$work/pins.txt" <<'EOF'
import re
import sys


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def release(version: str) -> tuple[int, ...]:
    parts = [int(p) for p in re.match(r"[0-9]+(?:\.[0-9]+)*", version).group(0).split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


resolved = {}
for line in open(sys.argv[2]):
    if "==" in line:
        name, version = line.split(";")[0].strip().split("==")
        resolved[norm(re.sub(r"\[.*\]", "", name))] = version.strip()
wrong, pins = [], {}
for line in open(sys.argv[1]):
    match = re.match(r"\s*([A-Za-z0-9._-]+)(\[[^]]*\])?\s*(.*)", line)
    if not match or not match.group(1):
        continue
    name, spec = norm(match.group(1)), match.group(3)
    bound = re.search(r">=\s*([0-9][^,;\s]*)", spec)
    pins[name] = f"{name}=={resolved[name]}"
    if bound and "==" not in spec and release(bound.group(1)) != release(resolved[name]):
        wrong.append(f"{name}: declared >={bound.group(1)}, lowest installable "
                     f"{resolved[name]} (a wheel for Python 3.11, beside the other extras)")
if wrong:
    sys.exit("lower bounds that nothing installs:\n  " + "\n  ".join(wrong))
print("\n".join(sorted(set(pins.values()))))
EOF
echo "lowest versions:" $(cat "$work/pins.txt")

"$uv" --quiet venv --python "$python" "$work/venv"
# Through the sdist, so the wheel holds what a release would (no stale build/lib files).
"$uv" --quiet build --out-dir "$work/dist" "$here"
# The test tools are not what is checked: they come at their newest, within the pins.
"$uv" --quiet pip install --python "$work/venv/bin/python" --only-binary :all: \
    --constraint "$work/pins.txt" \
    "$(ls "$work"/dist/tracelib-*.whl)[service,reports,postgres]" \
    pytest pytest-xdist hypothesis rfc8785
"$uv" --quiet pip check --python "$work/venv/bin/python"

# The README's library example, outside the checkout so it runs on the installed wheel.
mkdir -p "$work/readme"
"$python" -c '
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
print(re.findall(r"## As a library\n\n```python\n(.*?)```", text, re.S)[0])
' "$here/README.md" > "$work/readme/example.py"
(cd "$work/readme" && "$work/venv/bin/python" example.py)
echo "README example: ok"

# `tracelib serve` (gunicorn, Flask) answers on a throw-away ledger.
port=$((20000 + RANDOM % 20000))
(cd "$work/readme" && "$work/venv/bin/tracelib" --db serve.db init --operator amr >/dev/null &&
    exec "$work/venv/bin/tracelib" --db serve.db serve --port "$port" --workers 1) \
    > "$work/serve.log" 2>&1 &
server=$!
answered=no
for _ in $(seq 1 100); do
    if "$work/venv/bin/python" -c "import urllib.request as r
r.urlopen('http://127.0.0.1:$port/api/v1/checkpoint', timeout=2)" 2>/dev/null; then
        answered=yes && break
    fi
    sleep 0.2
done
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
if [ "$answered" != yes ]; then
    cat "$work/serve.log" >&2
    echo "tracelib serve did not answer" >&2
    exit 1
fi
echo "tracelib serve: ok"

cd "$here"
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider -n 2 --dist loadfile -m "not slow" \
    tests/test_ledger.py tests/test_verify.py tests/test_trace.py tests/test_events.py \
    tests/test_canonical.py tests/test_keys.py tests/test_migrations.py tests/test_cli_supply.py \
    tests/test_report.py tests/test_testing.py tests/test_packaging.py \
    tests/service/test_app.py tests/service/test_api.py tests/service/test_stall.py \
    tests/service/test_lots.py tests/service/test_postgres.py
echo "lowest dependencies: ok in $((SECONDS - started)) s"
