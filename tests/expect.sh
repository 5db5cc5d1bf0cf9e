# expect.sh - the checks of the command-line tests (tests/test_cli.sh, tests/test_from_pytorch.sh),
# sourced after DIR is set: expect (exit status and output of a command), check (a condition),
# size_of; PASSED and FAILED count them.
PASSED=0
FAILED=0

failed() {
  FAILED=$((FAILED + 1))
  echo "FAIL: $*"
}
passed() { PASSED=$((PASSED + 1)); }

# expect STATUS PATTERN WHAT CMD...: runs CMD; checks its exit status and, when PATTERN is not
# empty, that its stdout (status 0) or stderr (any other status) matches the extended regex.
expect() {
  want=$1; pat=$2; what=$3; shift 3
  "$@" >"$DIR/out.txt" 2>"$DIR/err.txt"
  got=$?
  if [ "$want" = 0 ]; then where="$DIR/out.txt"; else where="$DIR/err.txt"; fi
  if [ "$got" != "$want" ]; then
    failed "$what: exit status $got, expected $want"
    tail -n 12 "$DIR/out.txt" "$DIR/err.txt" | sed 's/^/      /'
    return 1
  fi
  if [ -n "$pat" ] && ! grep -q -E -e "$pat" "$where"; then
    failed "$what: output does not match /$pat/"
    tail -n 12 "$where" | sed 's/^/      /'
    return 1
  fi
  passed
  return 0
}

# check CONDITION-CMD... WHAT: a plain condition
check() {
  what=$1; shift
  if "$@"; then passed; else failed "$what"; fi
}

size_of() { wc -c <"$1" | tr -d ' '; }
