#!/bin/bash
# The OSCAR service script of onnx-manager: runs the cloud part(s) of a split on one payload.
#
# OSCAR's faas-supervisor downloads the object that started the job to $INPUT_FILE_PATH, runs this
# script, then uploads every file in $TMP_OUTPUT_DIR to the service's output path under the same
# name. onnx-cloud writes the result to $TMP_OUTPUT_DIR/<input file name>, so the result of
# <input folder>/X.pb appears as <output folder>/X.pb.
#
# Environment (set by the service definition, see cloud/oscar/fdl-template.yaml):
#   MINIO_ENDPOINT              the MinIO the parts (models/<sha256>.onnx) and payloads live in
#   MINIO_ACCESS_KEY, MINIO_SECRET_KEY  service secrets; else the MinIO keys OSCAR mounts at
#                               /var/run/secrets/providers/minio.default (accessKey, secretKey)
#   ONNX_MANAGER_CLOUD_CONFIG   the run's cloud settings (provider, graph optimisation, threads, bucket) as
#                               one JSON text, written by --operation deploy; passed as --cloud_config
#                               (unset: onnx-cloud's defaults, the bucket from MINIO_BUCKET or onnx-manager)
#   ONNX_MANAGER_HOME           where onnx-manager is installed (runs node $ONNX_MANAGER_HOME/dist/cloud/onnx-cloud.js);
#                               unset: onnx-cloud from PATH (npm install -g)
#   ONNX_MANAGER_STAGE_PARTS    only for a stage of a chain that is not the last: the parts it runs
#
# On failure the script still leaves a result: an error payload naming the cause, so the edge
# reports it at once (the supervisor ignores the exit status and uploads whatever is there).

# faas-supervisor runs the script as `/bin/sh script.sh`: continue under bash.
if [ -z "${BASH_VERSION:-}" ]; then
  if command -v bash >/dev/null 2>&1; then
    exec bash "$0" "$@"
  fi
  echo "onnx-manager: script.sh needs bash in the image" >&2
  exit 2
fi
set -euo pipefail

: "${INPUT_FILE_PATH:?is not set: start the service with a storage event (an upload to its input path, or POST /job)}"
: "${TMP_OUTPUT_DIR:?is not set}"

name="$(basename -- "$INPUT_FILE_PATH")"
result="$TMP_OUTPUT_DIR/$name"
echo "onnx-manager: job ${JOB_UUID:-?}: ${STORAGE_OBJECT_KEY:-$name} -> $name"

provider=/var/run/secrets/providers/minio.default
if [ -z "${MINIO_ACCESS_KEY:-}${MINIO_ACCESS_KEY_FILE:-}" ] && [ -r "$provider/accessKey" ]; then
  export MINIO_ACCESS_KEY_FILE="$provider/accessKey"
fi
if [ -z "${MINIO_SECRET_KEY:-}${MINIO_SECRET_KEY_FILE:-}" ] && [ -r "$provider/secretKey" ]; then
  export MINIO_SECRET_KEY_FILE="$provider/secretKey"
fi

if [ -n "${ONNX_MANAGER_HOME:-}" ]; then
  dist="$ONNX_MANAGER_HOME/dist/cloud"
  cloud=(node "$dist/onnx-cloud.js")
elif command -v onnx-cloud >/dev/null 2>&1; then
  dist="$(dirname -- "$(readlink -f -- "$(command -v onnx-cloud)")")"
  cloud=(onnx-cloud)
else
  echo "onnx-manager: onnx-cloud not found (set ONNX_MANAGER_HOME or put onnx-cloud on PATH)" >&2
  exit 127
fi
helper=(node "$dist/oscar/helper.js")

args=(--input_file "$INPUT_FILE_PATH" --save_results "$result")
if [ -n "${ONNX_MANAGER_CLOUD_CONFIG:-}" ]; then
  args+=(--cloud_config "$ONNX_MANAGER_CLOUD_CONFIG")
fi

errors="$(mktemp)"
trap 'rm -f -- "$errors"' EXIT
status=0
if [ -n "${ONNX_MANAGER_STAGE_PARTS:-}" ]; then
  "${helper[@]}" stage "${args[@]}" 2>"$errors" || status=$?
else
  "${cloud[@]}" "${args[@]}" 2>"$errors" || status=$?
fi
cat -- "$errors" >&2

if [ "$status" -ne 0 ] && [ ! -e "$result" ]; then
  message="$(tail -n 1 -- "$errors" | cut -c 1-300)"
  "${helper[@]}" error-result "$INPUT_FILE_PATH" "$result" -- "${message:-onnx-cloud exited with status $status}" || true
fi
exit "$status"
