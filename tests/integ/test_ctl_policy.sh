#!/usr/bin/env bash
# Integration: plainsight-ctl policy check FILE, which compiles a policy with
# the data plane's own compiler and needs no data plane. A valid policy, one
# with several distinct errors (each must be printed at its line and column),
# broken JSON, a missing file, usage errors, and the --json form.
set -uo pipefail
. "$(dirname "$0")/../lib.sh"

CTL=$PS_CTL
OUT=$T_TMP/out
ERR=$T_TMP/err

# run CMD...: run plainsight-ctl with CMD, stdout in $OUT, stderr in $ERR, exit code in $RC.
run() {
	"$CTL" "$@" >"$OUT" 2>"$ERR"
	RC=$?
}

# has FILE LINE: FILE holds LINE exactly (a whole line, no regex).
has() { grep -qxF -- "$2" "$1" || { echo "missing: $2"; echo "got:"; cat "$1"; return 1; }; }

# --- a valid policy -----------------------------------------------------------
EXAMPLE=$PS_ROOT/docs/examples/policy.json
run policy check "$EXAMPLE"
check "valid: docs/examples/policy.json exits 0" test "$RC" = 0
check "valid: summary line with rule and list counts" \
	has "$OUT" "$EXAMPLE: policy OK (5 rules, 2 lists, default bypass)"
check "valid: nothing on stderr" test ! -s "$ERR"

# --- several distinct errors --------------------------------------------------
# Positions are 1-based lines and columns (a tab is one column).
cat >"$T_TMP/bad.json" <<'EOF'
{
	"lists": { "finance": ["bank.example"] },
	"rules": [
		{ "name": "web", "match": { "dst": ["10.1.0.0/8"] }, "action": "decrypt" },
		{ "name": "private", "match": { "sni": ["@finance", "@nosuch"] },
		  "action": "bypass", "colour": "red" },
		{ "name": "web", "action": "drop" }
	]
}
EOF
BAD=$T_TMP/bad.json
run policy check "$BAD"
check "errors: exit 1" test "$RC" = 1
check "errors: bad CIDR at 4:39" has "$OUT" \
	"$BAD:4:39: rules[0].match.dst[0]: expected an IPv4 or IPv6 prefix ADDRESS[/LENGTH] without host bits, found \"10.1.0.0/8\""
check "errors: undefined list at 5:55" has "$OUT" \
	"$BAD:5:55: rules[1].match.sni[1]: expected the name of a list defined in \"lists\", found \"@nosuch\""
check "errors: unknown key at 6:25 (the key)" has "$OUT" \
	"$BAD:6:25: rules[1].colour: unknown key (expected one of: name, match, action, log, tools, tls_profile, on_invalid_cert, shadow)"
check "errors: duplicate rule name at 7:13" has "$OUT" \
	"$BAD:7:13: rules[2].name: duplicate rule name \"web\" (first in rules[0])"
check "errors: summary counts 4 errors" has "$OUT" "$BAD: 4 errors"
check "errors: exactly 4 messages and a summary, in file order" \
	test "$(cut -d: -f2 "$OUT" | tr '\n' ' ')" = "4 5 6 7  4 errors "

# --- broken JSON --------------------------------------------------------------
printf '{\n  "rules": [\n    { "name": "a", }\n  ]\n}\n' >"$T_TMP/syntax.json"
run policy check "$T_TMP/syntax.json"
check "syntax: exit 1" test "$RC" = 1
check "syntax: FILE:LINE:COLUMN of the error" grep -qF "$T_TMP/syntax.json:3:20: invalid JSON: " "$OUT"
check "syntax: summary counts 1 error" has "$OUT" "$T_TMP/syntax.json: 1 error"

# --- a file that cannot be read -----------------------------------------------
run policy check "$T_TMP/nosuch.json"
check "missing file: exit 1" test "$RC" = 1
check "missing file: one clear line on stderr" \
	has "$ERR" "plainsight-ctl: $T_TMP/nosuch.json: cannot read: No such file or directory"
run policy check "$T_TMP"
check "directory: exit 1" test "$RC" = 1

# --- usage errors -------------------------------------------------------------
run policy check
check "usage: no FILE exits 2" test "$RC" = 2
check "usage: no FILE is named" grep -q "no FILE given" "$ERR"
run policy check "$EXAMPLE" extra
check "usage: an extra argument exits 2" test "$RC" = 2
run policy
check "usage: policy without subcommand exits 2" test "$RC" = 2
run policy frobnicate x
check "usage: unknown policy subcommand exits 2" test "$RC" = 2
run frobnicate
check "usage: unknown command names policy among the expected" \
	grep -q "expected status, stats.* policy" "$ERR"
run --help
check "usage: --help lists policy check" grep -q "policy .*check FILE" "$OUT"
run policy check --help
check "usage: policy check --help exits 0" test "$RC" = 0

# --- --json -------------------------------------------------------------------
json_ok() {	# the --json result of a bad policy parses and lists its errors
	json_get "$OUT" "'ok' if r['ok'] is False and r['error_count'] == 4 and \
		[(e['line'], e['column'], e['path']) for e in r['errors']] == \
		[(4, 39, 'rules[0].match.dst[0]'), (5, 55, 'rules[1].match.sni[1]'), \
		 (6, 25, 'rules[1].colour'), (7, 13, 'rules[2].name')] and \
		r['errors'][3]['message'] == 'duplicate rule name \"web\" (first in rules[0])' \
		else sys.exit(1)"
}
run --json policy check "$BAD"
check "json: exit 1" test "$RC" = 1
check "json: parses and lists every error with line, column, path, message" json_ok
run policy check --json "$BAD"
check "json: --json after the subcommand works too" json_ok
run --json policy check "$EXAMPLE"
check "json: valid policy exits 0" test "$RC" = 0
check "json: valid policy is ok with its counts" \
	json_get "$OUT" "'ok' if r['ok'] is True and r['errors'] == [] and r['rules'] == 5 \
		and r['lists'] == 2 else sys.exit(1)"
run --json policy check "$T_TMP/nosuch.json"
check "json: a missing file is one error without position" \
	json_get "$OUT" "'ok' if r['ok'] is False and r['errors'][0]['line'] is None and \
		r['errors'][0]['message'].startswith('cannot read') else sys.exit(1)"

exit $((T_FAILED > 0))
