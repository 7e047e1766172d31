#!/usr/bin/env bash
# Builds mmcv-full 1.7.2 from its PyPI sdist against the torch installed in $PYTHON and caches
# the wheel, so that the next `make install-lvis` installs it in seconds.
#
# Why a build: mmcv-full publishes no wheel on PyPI, and its setup.py hard-codes -std=c++14 /
# -std=c++17 while torch >= 2.10's headers need C++20. The build runs in a side virtualenv
# (system site packages visible, so it sees torch) that holds setuptools<70, because mmcv's
# setup.py imports pkg_resources, which newer setuptools no longer ships. About 13 minutes on
# 2 cores (CPU ops); on a CUDA machine set FORCE_CUDA=1 to compile the CUDA kernels too.
#
# Usage: tools/install/build_mmcv_full.sh            prints the path of the cached wheel (builds if needed)
# Env:   PYTHON (python3), LTKIT_WHEEL_CACHE (~/.cache/ltkit/wheels), MAX_JOBS (nproc)
set -euo pipefail
PYTHON=${PYTHON:-python3}
MMCV_VERSION=1.7.2
torch_tag=$("$PYTHON" -c 'import sys, torch; print(f"py{sys.version_info[0]}{sys.version_info[1]}-torch{torch.__version__}".replace("+", "_"))')
cuda_tag=cpu; [ "${FORCE_CUDA:-0}" = 1 ] && cuda_tag=cuda
cache=${LTKIT_WHEEL_CACHE:-$HOME/.cache/ltkit/wheels}/$torch_tag-$cuda_tag
mkdir -p "$cache"
wheel=$(ls "$cache"/mmcv_full-$MMCV_VERSION-*.whl 2>/dev/null | head -n1 || true)
if [ -n "$wheel" ]; then echo "$wheel"; exit 0; fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mmcv-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "building mmcv-full $MMCV_VERSION for $torch_tag ($cuda_tag) in $work; the wheel goes to $cache" >&2
"$PYTHON" -m venv --system-site-packages "$work/venv"
vpy="$work/venv/bin/python"
"$vpy" -m pip install -q --disable-pip-version-check "setuptools<70" wheel ninja >&2
"$vpy" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
    --no-build-isolation "mmcv-full==$MMCV_VERSION" -d "$work" >&2
tar -xzf "$work/mmcv-full-$MMCV_VERSION.tar.gz" -C "$work"
src="$work/mmcv-full-$MMCV_VERSION"
# torch's headers need C++20; mmcv 1.7.2 asks for C++14 (CPU/CUDA) or C++17 (some backends)
sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$src/setup.py"
grep -q -- '-std=c++20' "$src/setup.py" || { echo "setup.py did not take the C++20 patch" >&2; exit 1; }
(cd "$src" && MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
    "$vpy" -m pip wheel -q --disable-pip-version-check --no-build-isolation --no-deps . -w "$work/dist" >&2)
built=$(ls "$work"/dist/mmcv_full-*.whl)
cp "$built" "$cache/.partial" && mv "$cache/.partial" "$cache/$(basename "$built")"
echo "$cache/$(basename "$built")"
