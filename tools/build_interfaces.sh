#!/usr/bin/env bash
# Build the interface packages under interfaces/ and install them into a virtual environment.
#
# Usage: tools/build_interfaces.sh VENV
#
# No wheel ships audio_common_msgs or hri_msgs, so each is generated with rosidl and cmake
# against the ROS 2 wheels already in VENV (see requirements.txt) and installed into VENV itself:
# the Python modules land in its site-packages, nothing needs sourcing. A package whose Python
# module already imports is left alone, unless this script built it from sources that have
# changed since (it records their hash in VENV/share/PACKAGE/). Build trees go to
# build/interfaces/PACKAGE.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 VENV" >&2
    exit 2
fi

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
this_script="$repo_root/tools/$(basename "${BASH_SOURCE[0]}")"
venv="$(cd "$1" && pwd)"
python="$venv/bin/python"
if [[ ! -x "$python" ]]; then
    echo "error: $python not found: '$1' is not a virtual environment" >&2
    exit 1
fi
command -v cmake >/dev/null || { echo "error: cmake is not installed" >&2; exit 1; }

fix_module="$repo_root/tools/cmake/ros_wheel_python_includes.cmake"

sources_hash() {
    (cd "$repo_root/interfaces/$1" && find . -type f | LC_ALL=C sort | xargs sha256sum
     sha256sum "$fix_module" "$this_script") | sha256sum | cut -c1-16
}

for package in audio_common_msgs hri_msgs; do
    hash_file="$venv/share/$package/react_ros_sources_hash"
    if "$python" -c "import ${package}.msg" 2>/dev/null; then
        if [[ ! -f "$hash_file" ]]; then
            echo "$package: already importable (not built here), skipping"
            continue
        fi
        if [[ "$(cat "$hash_file")" == "$(sources_hash "$package")" ]]; then
            echo "$package: up to date in $venv, skipping"
            continue
        fi
        echo "$package: sources changed since it was built, rebuilding"
    else
        echo "$package: building"
    fi
    build_dir="$repo_root/build/interfaces/$package"
    rm -rf "$build_dir"
    mkdir -p "$build_dir"
    start=$SECONDS
    # The generators are Python programs run by cmake: they must come from the venv.
    PATH="$venv/bin:$PATH" cmake -S "$repo_root/interfaces/$package" -B "$build_dir" \
        -DCMAKE_PREFIX_PATH="$venv" \
        -DCMAKE_INSTALL_PREFIX="$venv" \
        -DPython3_EXECUTABLE="$python" \
        -DROS_WHEEL_FIX_MODULE="$fix_module" \
        -DBUILD_TESTING=OFF \
        -DCMAKE_BUILD_TYPE=Release \
        > "$build_dir/configure.log" 2>&1 \
        || { tail -n 40 "$build_dir/configure.log" >&2; exit 1; }
    PATH="$venv/bin:$PATH" cmake --build "$build_dir" -j "$(nproc)" \
        > "$build_dir/build.log" 2>&1 \
        || { tail -n 40 "$build_dir/build.log" >&2; exit 1; }
    cmake --install "$build_dir" > "$build_dir/install.log" 2>&1 \
        || { tail -n 40 "$build_dir/install.log" >&2; exit 1; }
    if ! "$python" -c "import ${package}.msg" ; then
        echo "error: $package was installed but its Python module does not import" >&2
        exit 1
    fi
    sources_hash "$package" > "$hash_file"
    echo "$package: installed into $venv in $((SECONDS - start)) s"
done
