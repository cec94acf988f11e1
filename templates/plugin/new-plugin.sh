#!/usr/bin/env bash
# `just new-plugin NAME`: creates the plugin crate plugins/NAME from this
# template (Cargo.toml and src/; not this script), with `{{name}}` replaced by
# NAME and `{{Name}}` by its CamelCase form, the transform's type name.
# Refuses a name Cargo would refuse or that would clash with what exists, so
# a fresh plugin always builds.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
template="$root/templates/plugin"
die() { printf 'new-plugin: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: just new-plugin NAME   (for example: just new-plugin geo-enrich)"
name=$1

# Lower case: the name is also the Wasm file name and the plugin's name in
# logs and metrics, and crates.io folds case anyway. Single separators only,
# so that the CamelCase type name is clean.
[[ $name =~ ^[a-z][a-z0-9]*([-_][a-z0-9]+)*$ ]] ||
  die "\"$name\" is not a valid plugin name: use lower-case letters and digits, separated by single - or _, starting with a letter (for example: geo-enrich)"
[ ${#name} -le 64 ] || die "\"$name\" is too long: 64 characters at most"
case " $name " in
  # Rust keywords and names Cargo reserves for itself, its build folders or std.
  " as " | " async " | " await " | " break " | " const " | " continue " | " crate " | " dyn " | " else " | " enum " | \
    " extern " | " false " | " fn " | " for " | " if " | " impl " | " in " | " let " | " loop " | " match " | " mod " | \
    " move " | " mut " | " pub " | " ref " | " return " | " self " | " static " | " struct " | " super " | " trait " | \
    " true " | " type " | " unsafe " | " use " | " where " | " while " | " abstract " | " become " | " box " | " do " | \
    " final " | " macro " | " override " | " priv " | " typeof " | " unsized " | " virtual " | " yield " | " try " | \
    " gen " | " test " | " std " | " core " | " alloc " | " proc_macro " | " proc-macro " | " build " | " deps " | \
    " examples " | " incremental " | " dist ")
    die "\"$name\" is reserved (a Rust keyword, or a name Cargo or this repository uses): pick another name" ;;
esac

type_name=$(sed -E 's/(^|[-_])([a-z0-9])/\U\2/g' <<<"$name")
# The template imports these SDK types and uses the prelude's: a transform
# type of the same name would shadow them and the fresh crate would not build.
case " $type_name " in
  " Value " | " Row " | " RowBuilder " | " Transform " | " Outcome " | " PluginInfo " | " InputRecord " | \
    " InputError " | " Cell " | " Option " | " Result " | " String " | " Vec " | " Box " | " Some " | " None " | " Ok " | " Err ")
    die "\"$name\" would name the transform type \`$type_name\`, which the template already uses: pick another name" ;;
esac

# - and _ are the same to Cargo's -p and to the built module's file name
# (cargo writes NAME with - turned into _), so names are compared folded.
folded=${name//-/_}
for existing in "$root"/plugins/*/; do
  existing=$(basename "$existing")
  [ "${existing//-/_}" != "$folded" ] ||
    die "plugins/$existing already exists: pick another name, or remove that folder first"
done
# Every package of the workspace and of its dependencies: a plugin of the same
# name would make `cargo test -p $name` ambiguous.
while read -r taken; do
  [ "${taken//-/_}" != "$folded" ] ||
    die "a package named \"$taken\" is already in the workspace or its dependencies: pick another name"
done < <(
  cat "$root/Cargo.lock" "$root"/*/Cargo.toml "$root"/*/*/Cargo.toml 2>/dev/null |
    sed -n 's/^name *= *"\(.*\)"/\1/p'
)

# Build the crate aside and move it in whole, so that a failure leaves
# nothing half-made in the workspace.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/$name/src"
for file in Cargo.toml src/lib.rs src/tests.rs; do
  sed -e "s/{{name}}/$name/g" -e "s/{{Name}}/$type_name/g" "$template/$file" >"$scratch/$name/$file"
done
mkdir -p "$root/plugins"
mv "$scratch/$name" "$root/plugins/$name"

cat >&2 <<MSG
new-plugin: created plugins/$name (transform type $type_name)
Next: write the logic in plugins/$name/src/lib.rs and its tests in src/tests.rs, then
  cargo test -p $name
  just build-plugins                  # -> plugins/dist/$name.wasm
  host run --plugin $name.wasm --input host/tests/fixtures/users.jsonl
See docs/writing-transforms.md.
MSG
