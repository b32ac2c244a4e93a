#!/bin/sh
# Static checks of the deployment files (images cannot be built on CI's machines). CI runs this
# script (.ci/run), and tests/deploy/test_validators.py runs each check on a broken copy to show
# it fails. The tools come with the deploy-check extra: pip install -e '.[deploy-check]'
#
#   check.sh                   every file in deploy/
#   check.sh dockerfile FILE   hadolint, failing on any finding
#   check.sh k8s FILE...       kubernetes-validate, strict (unknown fields fail), with the schemas
#                              it ships for the oldest Kubernetes release we support
#   check.sh compose FILE      check-jsonschema against the Compose Specification schema it ships
# All three work offline.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
case "${1:-all}" in
    dockerfile) shift; exec hadolint "$@" ;;
    k8s) shift; exec kubernetes-validate --strict --kubernetes-version 1.30.0 "$@" ;;
    compose) shift; exec check-jsonschema --builtin-schema vendor.compose-spec "$@" ;;
    all)
        sh "$0" dockerfile "$here/Dockerfile"
        sh "$0" k8s "$here"/k8s/*.yaml
        sh "$0" compose "$here/docker-compose.yml"
        echo "deploy/: Dockerfile, Kubernetes manifests and compose file are valid"
        ;;
    *) echo "usage: $0 [dockerfile FILE | k8s FILE... | compose FILE]" >&2; exit 2 ;;
esac
