#!/usr/bin/env bash
# Installs reconnect-pbx's Asterisk configuration: renders asterisk-conf/*.conf and dialplan/*.conf
# into an Asterisk etc directory, replacing each {{PLACEHOLDER}} with its value, and optionally
# copies the prompts. docs/deploy.md says when and how to run it; tests/e2e/test_deploy_guide.py
# runs it into a fresh Asterisk and checks that it loads and registers.
#
# usage: install-asterisk-config.sh --values FILE [--ip-auth] [--sounds DIR] TARGET_DIR
#
#   --values FILE  KEY=VALUE lines, one per placeholder (blank lines and # comments allowed). It
#                  holds the ARI and trunk passwords: keep it root-only (chmod 600). A password
#                  left at the example's "change-me", or shorter than 16 (ARI) or 12 (trunk)
#                  characters, is refused. ari.conf gets the ARI password as a crypt(3) hash
#                  (sha1crypt, password_format = crypt), never the password itself.
#   --ip-auth      the carrier recognises us by our address: leave pjsip.conf's outbound
#                  registration out (REGISTRATION_INITIAL_DELAY is then not needed).
#   --sounds DIR   also install the prompts (sounds/fr, sounds/en) as DIR/std/<lang>/<name>.wav;
#                  DIR is <Asterisk data dir>/sounds/reconnect, /usr/share/asterisk/sounds/reconnect
#                  on Debian.
#   TARGET_DIR     where Asterisk reads its configuration: /etc/asterisk (created if missing).
#                  Our files replace those of the same name; other files are left alone and listed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
values_file=""
sounds_dir=""
ip_auth=no
target=""

die() { echo "install-asterisk-config: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --values) [ $# -ge 2 ] || die "--values needs a file"; values_file="$2"; shift 2 ;;
        --sounds) [ $# -ge 2 ] || die "--sounds needs a directory"; sounds_dir="$2"; shift 2 ;;
        --ip-auth) ip_auth=yes; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) [ -z "$target" ] || die "one target directory only"; target="$1"; shift ;;
    esac
done
[ -n "$target" ] || die "no target directory (see --help)"
[ -n "$values_file" ] || die "no --values file (see --help)"
[ -r "$values_file" ] || die "cannot read $values_file"

sources=("$repo"/asterisk-conf/*.conf "$repo"/dialplan/*.conf)
[ -f "$repo/asterisk-conf/pjsip.conf" ] || die "$repo/asterisk-conf is missing: run from a source checkout"

# Every placeholder of the templates: a key in the values file that is none of them is a typo.
mapfile -t known < <(grep -oh '{{[A-Z][A-Z0-9_]*}}' "${sources[@]}" | tr -d '{}' | sort -u)

declare -A values=()
line_number=0
while IFS= read -r line || [ -n "$line" ]; do
    line_number=$((line_number + 1))
    line="${line%$'\r'}"
    [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
    [[ "$line" =~ ^[[:space:]]*([A-Z][A-Z0-9_]*)[[:space:]]*=[[:space:]]*(.*[^[:space:]])[[:space:]]*$ ]] \
        || die "$values_file:$line_number: expected KEY=VALUE"
    key="${BASH_REMATCH[1]}"
    value="${BASH_REMATCH[2]}"
    printf '%s\n' "${known[@]}" | grep -qx "$key" || die "$values_file:$line_number: no placeholder {{$key}} in the templates"
    # ';' starts a comment in Asterisk's files; quotes, spaces and '{{' would not survive either.
    [[ "$value" =~ [\;[:space:]\"\'\\] || "$value" == *"{{"* ]] \
        && die "$values_file:$line_number: $key: use no ';', quote, backslash or space in a value"
    values["$key"]="$value"
done < "$values_file"

# Passwords: never the example's placeholder, never short (the ARI one we make ourselves with
# `openssl rand -hex 24`; the trunk's comes from the carrier).
declare -A min_length=([ARI_PASSWORD]=16 [TRUNK_PASSWORD]=12)
for key in "${!min_length[@]}"; do
    [ -n "${values[$key]+set}" ] || continue
    value="${values[$key]}"
    lowered="${value,,}"
    [[ "$lowered" == *change*me* || "$lowered" == *changeme* ]] \
        && die "$values_file: $key: still the example's placeholder; set a real password"
    [ "${#value}" -ge "${min_length[$key]}" ] \
        || die "$values_file: $key: too short (${#value} characters, at least ${min_length[$key]})"
done

# Placeholders a file holds as a crypt(3) hash of the value (reconnect_pbx/sandbox/template.py,
# CRYPTED): Asterisk checks the password against it, and a read of the file does not give it away.
# sha1crypt at 16 rounds, made by template.py with the system's libcrypt: Asterisk crypts the
# password of every ARI request again (SHA-512 crypt cost it 0.55 ms a request), and the password
# is random (openssl rand -hex 24), so rounds would buy nothing.
crypt_password() {
    printf '%s\n' "$1" | python3 "$repo/reconnect_pbx/sandbox/template.py" ${2:+"$2"}
}
declare -A crypted=()
if [ -n "${values[ARI_PASSWORD]+set}" ]; then
    command -v python3 >/dev/null || die "python3 is needed to crypt the ARI password (apt-get install python3)"
    crypted[ARI_PASSWORD]="$(crypt_password "${values[ARI_PASSWORD]}")" || die "cannot crypt the ARI password"
    # Run again with the same password: the installed crypt is kept (same salt), so that an
    # unchanged installation leaves ari.conf unchanged (deploy/install restarts on changes). An
    # older SHA-512 crypt ($6$) is replaced by sha1crypt.
    current_crypt=""
    if [ -f "$target/ari.conf" ]; then
        current_crypt="$(sed -n 's/^password = \(\$sha1\$[0-9]*\$[^$]*\$.*\)$/\1/p' "$target/ari.conf" | head -1)"
    fi
    if [ -n "$current_crypt" ] \
        && [ "$(crypt_password "${values[ARI_PASSWORD]}" "$current_crypt")" = "$current_crypt" ]; then
        crypted[ARI_PASSWORD]="$current_crypt"
    fi
fi

# Renders one template on standard output.
render() {
    local text
    text="$(cat "$1"; echo x)"
    text="${text%x}"
    if [ "$ip_auth" = yes ] && [ "$(basename "$1")" = pjsip.conf ]; then
        text="$(printf '%s' "$text" | drop_registration; echo x)"
        text="${text%x}"
    fi
    local name value
    for name in $(printf '%s' "$text" | grep -o '{{[A-Z][A-Z0-9_]*}}' | tr -d '{}' | sort -u); do
        [ -n "${values[$name]+set}" ] || die "$(basename "$1"): no value for $name in $values_file"
        value="${values[$name]}"
        if [ "$(basename "$1")" = ari.conf ] && [ -n "${crypted[$name]+set}" ]; then
            value="${crypted[$name]}"
        fi
        # Quoted replacement: taken literally (no '&' expansion in bash 5.2).
        text="${text//"{{$name}}"/"$value"}"
    done
    [[ "$text" != *"{{"* ]] || die "$(basename "$1"): a placeholder is left (malformed?)"
    printf '%s' "$text"
}

# Leaves out each section whose type is registration, with the comments just above it.
drop_registration() {
    awk '
        function flush() { if (!is_registration) printf "%s", buffer; buffer = ""; is_registration = 0 }
        /^\[/ { flush(); buffer = pending $0 "\n"; pending = ""; next }
        /^[[:space:]]*(;.*)?$/ { pending = pending $0 "\n"; next }
        /^[[:space:]]*type[[:space:]]*=>?[[:space:]]*registration[[:space:]]*$/ { is_registration = 1 }
        { buffer = buffer pending $0 "\n"; pending = "" }
        END { flush(); printf "%s", pending }
    '
}

mkdir -p "$target"
umask 027
staging="$(mktemp -d "$target/.reconnect-pbx-install.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
installed=()
for source in "${sources[@]}"; do
    name="$(basename "$source")"
    render "$source" > "$staging/$name"
    installed+=("$name")
done
# Everything rendered: only now touch the target, one rename per file.
for name in "${installed[@]}"; do
    chmod 640 "$staging/$name"
    # An upgrade keeps the owner and group of the file it replaces (root:asterisk): a file left
    # root:root 0640 is one Asterisk cannot read, and it then stops at its next start.
    [ ! -e "$target/$name" ] || chown --reference="$target/$name" "$staging/$name"
    mv -f "$staging/$name" "$target/$name"
done
echo "installed ${#installed[@]} files into $target: ${installed[*]}"

others=()
for path in "$target"/*; do
    [ -f "$path" ] || continue
    name="$(basename "$path")"
    printf '%s\n' "${installed[@]}" | grep -qx "$name" || others+=("$name")
done
if [ ${#others[@]} -gt 0 ]; then
    echo "left alone in $target (not ours: see docs/deploy.md about Debian's sample files): ${others[*]}"
fi

if [ -n "$sounds_dir" ]; then
    umask 022
    mkdir -p "$sounds_dir"
    new="$(mktemp -d "$sounds_dir/.std.XXXXXX")"
    count=0
    for lang in fr en; do
        mkdir -p "$new/$lang"
        cp "$repo/sounds/$lang"/*.wav "$new/$lang/"
        count=$((count + $(ls "$new/$lang" | wc -l)))
    done
    chmod -R a+rX "$new"
    rm -rf "$sounds_dir/std.old"
    [ ! -e "$sounds_dir/std" ] || mv "$sounds_dir/std" "$sounds_dir/std.old"
    mv "$new" "$sounds_dir/std"
    rm -rf "$sounds_dir/std.old"
    echo "installed $count prompts into $sounds_dir/std"
fi
