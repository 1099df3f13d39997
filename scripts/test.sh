#!/usr/bin/env bash
# Runs every test of strato: generated code up to date, gofmt, go vet, the static
# build, unit tests (the control plane under the race detector), end-to-end tests
# with aws-sdk-go-v2 against a real `strato serve`, and script tests with Debian's
# aws CLI and boto3. Installs what it needs with apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

apt_install awscli python3-boto3 openssh-client openssl putty-tools gcc libc6-dev git ca-certificates busybox-static e2fsprogs runc dmsetup util-linux iproute2 wget debootstrap qemu-system-x86 cpio lz4
need_go
# The VM tests fetch Debian's cloud kernel with apt (then keep it in ~/.cache/strato-test):
# the package lists must name it.
if [ "$(dpkg --print-architecture)" = amd64 ] && ! apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1; then
	apt-get update -qq || die "apt-get update failed"
fi

say "generated code is up to date"
go generate ./internal/awsapi/ec2api || die "go generate failed"
if git rev-parse --git-dir >/dev/null 2>&1; then
	git diff --exit-code --stat -- internal/awsapi/ec2api || die "generated code differs from what is committed: run go generate ./internal/awsapi/ec2api and commit"
fi

say "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$unformatted" ] || die "gofmt would change: $unformatted"

say "go vet"
go vet ./... || die "go vet failed"

say "static build (CGO_ENABLED=0)"
CGO_ENABLED=0 go build -o strato ./cmd/strato || die "static build failed"

say "unit tests with the race detector"
STRATO_TEST_REQUIRE_TOOLS=1 go test -race -count=1 ./internal/... || die "unit tests failed"

say "end-to-end tests (aws-sdk-go-v2 against strato serve)"
STRATO_TEST_REQUIRE_TOOLS=1 go test -count=1 ./tests/... || die "end-to-end tests failed"

say "script tests (aws CLI, boto3)"
STRATO_BIN="$PWD/strato" tests/scripts/run.sh || die "script tests failed"

say "all tests passed"
