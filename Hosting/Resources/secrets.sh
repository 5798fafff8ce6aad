#!/bin/sh
# Creates the Secrets of the published manifests from one values file that the operator keeps outside version control.
# The layout (which key belongs to which Secret, what may be generated) is secrets.env.example beside this script.
#
#   secrets.sh init  VALUES              adds every key of the layout that VALUES lacks (creating VALUES, mode 600),
#                                        generating the [generate N] ones; fills [generate N] keys left empty; never
#                                        changes a value that is there. Run it again after adding tenants.
#   secrets.sh yaml  VALUES              prints every Secret as YAML (to review, or for a GitOps tool / sealed-secrets)
#   secrets.sh apply VALUES [ARGS...]    yaml | kubectl apply --server-side -f - ARGS (e.g. --context prod)
#
# VALUES: one KEY=value line per key, the value being everything after the first '=' (no quotes, no escapes), '#'
# comments and blank lines ignored: the format of `kubectl create secret generic --from-env-file`.
# Refused, naming the key: a required key without a value, a [plain] value with characters other than letters, digits
# and - . _ ~ (it goes into a connection string or URL), a value with a carriage return.
set -eu

layout="$(dirname "$0")/secrets.env.example"
usage() { echo "usage: $0 init|yaml|apply VALUES [kubectl arguments...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
command=$1 values=$2
shift 2
[ -f "$layout" ] || { echo "$0: the layout $layout is missing" >&2; exit 1; }

# The layout as lines: KEY<TAB>SECRET<TAB>GENERATE<TAB>OPTIONAL<TAB>PLAIN
read_layout() {
  awk '
    /^#secret / { secret = $2; next }
    /^# / { gen = 0; opt = 0; plain = 0
            if (match($0, /\[generate [0-9]+\]/)) gen = substr($0, RSTART + 10, RLENGTH - 11) + 0
            if (index($0, "[optional]")) opt = 1
            if (index($0, "[plain]")) plain = 1
            next }
    /^[^#][^=]*=/ { key = substr($0, 1, index($0, "=") - 1); print key "\t" secret "\t" gen "\t" opt "\t" plain; gen = 0; opt = 0; plain = 0 }
  ' "$layout"
}

namespace=$(awk '/^#namespace / { print $2; exit }' "$layout")

case "$command" in
init)
  if [ ! -f "$values" ]; then
    ( umask 077; printf '# Secret values of the multi-tenant-jobs deployment. Keep this file out of version control.\n' > "$values" )
  fi
  tmp_layout=$(mktemp) tmp_pool=$(mktemp) tmp_out=$(mktemp)
  trap 'rm -f "$tmp_layout" "$tmp_pool" "$tmp_out"' EXIT
  read_layout > "$tmp_layout"
  # How many random characters are needed: the [generate N] keys that are missing or empty.
  need=$(awk -F '\t' '
    FNR == NR { i = index($0, "="); if ($0 !~ /^#/ && i > 0) have[substr($0, 1, i - 1)] = substr($0, i + 1); next }
    $3 > 0 && (!($1 in have) || have[$1] == "") { n += $3 }
    END { print n + 0 }' "$values" "$tmp_layout")
  if [ "$need" -gt 0 ]; then
    LC_ALL=C tr -dc 'A-Za-z0-9' < /dev/urandom 2>/dev/null | head -c "$need" > "$tmp_pool" || true
  fi
  awk -F '\t' -v poolfile="$tmp_pool" -v out="$tmp_out" '
    function take(n,   s) { if (!loaded++) getline pool < poolfile; s = substr(pool, used + 1, n); used += n; return s }
    FNR == NR { layout[++count] = $1; gen[$1] = $3; opt[$1] = $4; secret[$1] = $2; next }
    {
      line = $0; i = index(line, "=")
      if (line !~ /^#/ && i > 0) {
        key = substr(line, 1, i - 1); seen[key] = 1
        if (substr(line, i + 1) == "" && gen[key] > 0) { line = key "=" take(gen[key]); filled++ }
      }
      print line > out
    }
    END {
      for (n = 1; n <= count; n++) {
        key = layout[n]
        if (key in seen) continue
        if (!header++) print "# added by secrets.sh init" > out
        if (gen[key] > 0) { print key "=" take(gen[key]) > out; generated++ } else { print key "=" > out; if (!opt[key]) { empty++; names = names " " key } }
        added++
      }
      printf "secrets.sh: %d keys added (%d generated), %d empty ones filled", added, generated, filled
      if (empty) printf "; fill in before apply:%s", names
      printf "\n"
    }' "$tmp_layout" "$values" > /dev/stderr
  cat "$tmp_out" > "$values"
  ;;
yaml|apply)
  [ -f "$values" ] || { echo "$0: $values does not exist; create it with: $0 init $values" >&2; exit 1; }
  tmp_layout=$(mktemp) tmp_yaml=$(mktemp)
  trap 'rm -f "$tmp_layout" "$tmp_yaml"' EXIT
  read_layout > "$tmp_layout"
  awk -F '\t' -v ns="$namespace" -v out="$tmp_yaml" '
    function quote(v,   r, c, k) {
      r = ""
      for (k = 1; k <= length(v); k++) {
        c = substr(v, k, 1)
        if (c == "\\") r = r "\\\\"; else if (c == "\"") r = r "\\\""; else if (c == "\t") r = r "\\t"; else r = r c
      }
      return "\"" r "\""
    }
    FNR == NR { layout[++count] = $1; secret[$1] = $2; opt[$1] = $4; plain[$1] = $5; next }
    /^[ \t]*#/ || /^[ \t]*$/ { next }
    {
      sub(/^[ \t]+/, ""); i = index($0, "=")
      if (i == 0) { print "secrets.sh: line " FNR " of the values file is not KEY=value" > "/dev/stderr"; bad = 1; next }
      key = substr($0, 1, i - 1); value[key] = substr($0, i + 1)
      if (!(key in secret)) print "secrets.sh: " key " is no key of this deployment (a removed tenant?); it is left out" > "/dev/stderr"
    }
    END {
      for (n = 1; n <= count; n++) {
        key = layout[n]; v = value[key]
        if (v == "" && !opt[key]) { print "secrets.sh: " key " (Secret " secret[key] ") has no value" > "/dev/stderr"; bad = 1 }
        if (index(v, "\r")) { print "secrets.sh: the value of " key " holds a carriage return" > "/dev/stderr"; bad = 1 }
        if (plain[key] && v != "" && v !~ /^[A-Za-z0-9._~-]+$/) {
          print "secrets.sh: the value of " key " goes into a connection string or URL: use only letters, digits and - . _ ~" > "/dev/stderr"; bad = 1 }
      }
      if (bad) exit 1
      for (n = 1; n <= count; n++) {
        key = layout[n]; s = secret[key]
        if (!(s in started)) {
          started[s] = 1
          print "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: " s "\n  namespace: " ns > out
          print "  labels:\n    app.kubernetes.io/part-of: multi-tenant-jobs\ntype: Opaque\nstringData:" > out
        }
        print "  " quote(key) ": " quote(value[key]) > out
      }
    }' "$tmp_layout" "$values"
  # Valkey's ACL file, in parts of a Secret each: the templates beside this script with every @@key@@ replaced by its value
  # (the keys were checked above: present, and [plain], so without white space).
  for template in "$(dirname "$0")"/valkey-acl-*.template; do
    [ -f "$template" ] || continue
    part=${template##*/valkey-acl-}; part=${part%.template}
    awk -v ns="$namespace" -v part="$part" '
      FNR == NR { if ($0 !~ /^[ \t]*#/) { i = index($0, "="); if (i > 0) { k = substr($0, 1, i - 1); sub(/^[ \t]+/, "", k); value[k] = substr($0, i + 1) } } next }
      FNR == 1 {
        print "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: valkey-acl-" part "\n  namespace: " ns
        print "  labels:\n    app.kubernetes.io/part-of: multi-tenant-jobs\ntype: Opaque\nstringData:\n  users-" part ".acl: |"
      }
      {
        line = $0
        while (match(line, /@@[^@]+@@/)) { line = substr(line, 1, RSTART - 1) value[substr(line, RSTART + 2, RLENGTH - 4)] substr(line, RSTART + RLENGTH) }
        print "    " line
      }' "$values" "$template" >> "$tmp_yaml"
  done
  # Secrets grouped by name: the layout lists each Secret's keys together, so one pass wrote each Secret whole.
  if [ "$command" = yaml ]; then
    cat "$tmp_yaml"
  else
    kubectl apply --server-side --force-conflicts --field-manager=secrets.sh -f "$tmp_yaml" "$@"
  fi
  ;;
*) usage ;;
esac
