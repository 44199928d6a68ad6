#!/usr/bin/env bash
# Prepares dist/ for the GPU machine (which has no Maven and no Java): a jlinked JRE and the slim jar (no OpenCV),
# small enough for the device tool's 64 MiB carry limit. Then, from the repository root:
#   run(command="bash benchmarks/gpu/run.sh", carry=["dist"])
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f java/target/vlm4j-nocv.jar ] || mvn -B -q package -DskipTests
rm -rf dist && mkdir -p dist
modules=$(jdeps --ignore-missing-deps --print-module-deps --multi-release 17 java/target/vlm4j-nocv.jar)
jlink --add-modules "$modules" --strip-debug --no-man-pages --no-header-files --compress=2 --output dist/jre
cp java/target/vlm4j-nocv.jar dist/vlm4j.jar
git rev-parse --short HEAD > dist/COMMIT 2>/dev/null || true
du -sh dist
dist/jre/bin/java -jar dist/vlm4j.jar info | head -3
