#!/usr/bin/env bash
# Pin every image the stack pulls (docker-compose.yml, and the Dockerfile's base) to the digest
# its tag names today, on a machine that reaches the registry (docs/deploy.md, "Images").
#   scripts/pin-images.sh                           # the same tags, their digests as of now
#   scripts/pin-images.sh grafana/grafana:13.3.0    # another tag for that image, then pin all
# It asks the registry with `docker buildx imagetools inspect`, or `skopeo inspect --raw`, for
# the digest of the tag's multi-platform index, rewrites `name:tag@sha256:...` in place and
# prints what changed. Review the diff, read the release notes, run scripts/test.sh, commit.
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=(docker-compose.yml Dockerfile)
# Work on copies: the files change only once every digest is known.
repo=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "${FILES[@]}" "$work/"
cd "$work"
OWN_IMAGE=sangsach  # built here from the Dockerfile, never pulled

fail() { echo "pin-images: $*" >&2; exit 2; }

# The image references of both files: `image: <ref>` and `FROM <ref> [AS <stage>]`, without a
# stage name used as a base and without our own image.
references() {
  sed -nE 's/^[[:space:]]*image:[[:space:]]*([^[:space:]#]+).*/\1/p' docker-compose.yml
  sed -nE 's/^FROM[[:space:]]+(--platform=[^[:space:]]+[[:space:]]+)?([^[:space:]]+).*/\2/p' Dockerfile
}

pullable() {
  local name=${1%%@*}
  [[ $name == *:* && ${name%%:*} != "$OWN_IMAGE" ]]
}

resolve() {  # name:tag -> sha256:<hex> of the index the tag points to
  local tagged=$1 digest
  if docker buildx version >/dev/null 2>&1; then
    digest=$(docker buildx imagetools inspect "$tagged" --format '{{.Manifest.Digest}}')
  elif command -v skopeo >/dev/null 2>&1; then
    digest="sha256:$(skopeo inspect --raw "docker://$tagged" | sha256sum | cut -d' ' -f1)"
  else
    fail "needs docker with buildx, or skopeo, and access to the registry"
  fi
  [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || fail "$tagged: no digest (got '$digest')"
  echo "$digest"
}

replace() {  # every file: the exact reference $1 becomes $2 (sed -i differs between systems)
  local old new file
  old=$(printf '%s' "$1" | sed 's/[][\.*^$|/+?(){}]/\\&/g')
  new=$(printf '%s' "$2" | sed 's/[\&/]/\\&/g')
  for file in "${FILES[@]}"; do
    sed -E "s/(^|[[:space:]])${old}([[:space:]]|\$)/\1${new}\2/" "$file" >"$file.pinning"
    cat "$file.pinning" >"$file" && rm "$file.pinning"
  done
}

# A new tag asked for: name:tag, for an image the files already use.
for wanted in "$@"; do
  [[ $wanted == *:* && $wanted != *@* ]] || fail "give name:tag, e.g. grafana/grafana:13.3.0 (not '$wanted')"
  found=""
  for ref in $(references | sort -u); do
    if pullable "$ref" && [[ ${ref%%:*} == "${wanted%%:*}" ]]; then
      replace "$ref" "$wanted"
      found=yes
    fi
  done
  [[ -n $found ]] || fail "${wanted%%:*} is not an image of ${FILES[*]}"
done

changed=0
for ref in $(references | sort -u); do
  pullable "$ref" || continue
  tagged=${ref%%@*}
  pinned="$tagged@$(resolve "$tagged")"
  if [[ $pinned != "$ref" ]]; then
    replace "$ref" "$pinned"
    echo "pinned $pinned (was $ref)"
    changed=$((changed + 1))
  else
    echo "unchanged $ref"
  fi
done
for file in "${FILES[@]}"; do
  cat "$work/$file" >"$repo/$file"
done
echo "$changed image reference(s) changed; review with: git diff ${FILES[*]}"
