#!/usr/bin/env bash
# Re-fetch the JavaScript the site vendors (MathJax and mermaid) from the npm registry,
# copy only the files the site loads into docs/assets/vendor/, and record what was fetched.
# Usage: scripts/vendor-assets.sh            (versions below)
#        MERMAID_VERSION=11.17.2 scripts/vendor-assets.sh
set -euo pipefail

MATHJAX_VERSION="${MATHJAX_VERSION:-3.2.2}"   # v3: its fonts load from beside the script, not a CDN
MERMAID_VERSION="${MERMAID_VERSION:-11.17.2}" # the major version Material for MkDocs expects

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/docs/assets/vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$tmp"
npm pack --silent "mathjax@$MATHJAX_VERSION" "mermaid@$MERMAID_VERSION" >/dev/null
mkdir mathjax mermaid
tar xzf "mathjax-$MATHJAX_VERSION.tgz" -C mathjax --strip-components=1
tar xzf "mermaid-$MERMAID_VERSION.tgz" -C mermaid --strip-components=1

rm -rf "$dest/mathjax" "$dest/mermaid"
mkdir -p "$dest/mathjax/output/chtml/fonts" "$dest/mermaid"
# tex-mml-chtml.js is the combined build: TeX input, CommonHTML output, and the fonts it
# fetches relative to its own URL.
cp mathjax/es5/tex-mml-chtml.js "$dest/mathjax/"
cp -r mathjax/es5/output/chtml/fonts/woff-v2 "$dest/mathjax/output/chtml/fonts/"
cp mathjax/LICENSE "$dest/mathjax/LICENSE"
# The IIFE build defines window.mermaid, which Material for MkDocs then uses instead of
# fetching its own copy.
cp mermaid/dist/mermaid.min.js "$dest/mermaid/"
cp mermaid/LICENSE "$dest/mermaid/LICENSE"

{
  echo "# Vendored by scripts/vendor-assets.sh on $(date -u +%Y-%m-%d). Do not edit by hand."
  echo "mathjax $MATHJAX_VERSION sha256:$(sha256sum "mathjax-$MATHJAX_VERSION.tgz" | cut -d' ' -f1)"
  echo "mermaid $MERMAID_VERSION sha256:$(sha256sum "mermaid-$MERMAID_VERSION.tgz" | cut -d' ' -f1)"
} >"$dest/VERSIONS.txt"
cat "$dest/VERSIONS.txt"
