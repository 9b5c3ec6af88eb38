# cli_lib.sh: what the CLI test scripts share (sourced, not run): the fovea binary, a temporary
# directory removed on exit, pass/fail counting, and the two assertions every script uses.
# A script ends with `finish`, which prints the "N passed, M failed" line ctest reads.
fovea=${FOVEA_BIN:?FOVEA_BIN must point at the fovea binary}
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C

ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
expect() { # expect DESCRIPTION COMMAND...: the command must succeed
  local what=$1; shift
  if "$@"; then ok; else bad "$what"; fi
}

# expect_error DESCRIPTION PATTERN ARGS...: fovea ARGS must exit 1..125 (not a signal), print
# nothing on stdout, and print exactly one "fovea: error:" line on stderr matching PATTERN.
expect_error() {
  local what=$1 pattern=$2; shift 2
  "$fovea" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  local lines
  lines=$(grep -c '^fovea: error:' "$tmp/err")
  if [ $rc -ge 1 ] && [ $rc -le 125 ] && [ "$lines" = 1 ] && grep -q -- "$pattern" "$tmp/err" && [ ! -s "$tmp/out" ]; then
    ok
  else
    bad "$what: rc=$rc, stderr: $(cat "$tmp/err"), stdout: $(head -c 200 "$tmp/out")"
  fi
}

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" = 0 ]
}
