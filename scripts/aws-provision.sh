#!/usr/bin/env bash
# Provisions what an AgentKeys relay needs on AWS: the OIDC provider for the broker's issuer,
# one role per data class trusting it (session tags required), and bucket policies keyed on
# aws:PrincipalTag/agentkeys_actor_omni. A dry run by default: it prints the rendered policies
# and the aws CLI commands; with --apply it runs them.
#
#   AGENTKEYS_ISSUER_URL=https://relay.example.com \
#   AWS_ACCOUNT_ID=123456789012 \
#   AGENTKEYS_CREDENTIALS_BUCKET=acme-agentkeys-credentials \
#   AGENTKEYS_MEMORY_BUCKET=acme-agentkeys-memory \
#   scripts/aws-provision.sh [--apply] [--out DIR]
set -euo pipefail

apply=false
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --apply) apply=true ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "aws-provision: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

need() {
  if [ -z "${!1:-}" ]; then
    echo "aws-provision: set $1 (see --help)" >&2
    exit 2
  fi
}
need AGENTKEYS_ISSUER_URL
need AWS_ACCOUNT_ID
need AGENTKEYS_CREDENTIALS_BUCKET
need AGENTKEYS_MEMORY_BUCKET

issuer="${AGENTKEYS_ISSUER_URL%/}"
case "$issuer" in
  https://*) ;;
  *) echo "aws-provision: AGENTKEYS_ISSUER_URL must be https:// (AWS fetches its JWKS)" >&2; exit 2 ;;
esac
case "$AWS_ACCOUNT_ID" in
  [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]) ;;
  *) echo "aws-provision: AWS_ACCOUNT_ID must be 12 digits" >&2; exit 2 ;;
esac
host="${issuer#https://}"
prefix="${AGENTKEYS_ROLE_PREFIX:-agentkeys}"
templates="$(cd "$(dirname "$0")/../deploy/aws" && pwd)"
out="${out:-$(mktemp -d)}"
mkdir -p "$out"

render() { # template class bucket role > file
  sed -e "s|@ACCOUNT_ID@|$AWS_ACCOUNT_ID|g" -e "s|@ISSUER_HOST@|$host|g" \
      -e "s|@CLASS@|$2|g" -e "s|@BUCKET@|$3|g" -e "s|@ROLE_NAME@|$4|g" "$templates/$1"
}

run() {
  printf '+'; printf ' %q' "$@"; printf '\n'
  if $apply; then "$@"; fi
}

$apply || echo "# dry run: nothing is changed; rerun with --apply to run these commands"
echo "# rendered policies in $out"
run aws iam create-open-id-connect-provider --url "$issuer" \
  --client-id-list sts.amazonaws.com
for class in credentials memory; do
  if [ "$class" = credentials ]; then bucket="$AGENTKEYS_CREDENTIALS_BUCKET"; else bucket="$AGENTKEYS_MEMORY_BUCKET"; fi
  role="$prefix-$class"
  render trust-policy.json "$class" "$bucket" "$role" > "$out/$role-trust.json"
  render role-policy.json "$class" "$bucket" "$role" > "$out/$role-policy.json"
  render bucket-policy.json "$class" "$bucket" "$role" > "$out/$bucket-bucket-policy.json"
  run aws iam create-role --role-name "$role" --max-session-duration 3600 \
    --assume-role-policy-document "file://$out/$role-trust.json"
  run aws iam put-role-policy --role-name "$role" --policy-name "$role-objects" \
    --policy-document "file://$out/$role-policy.json"
  run aws s3api put-bucket-policy --bucket "$bucket" \
    --policy "file://$out/$bucket-bucket-policy.json"
  echo "# relay setting: aws_role_$class = \"arn:aws:iam::$AWS_ACCOUNT_ID:role/$role\""
done
