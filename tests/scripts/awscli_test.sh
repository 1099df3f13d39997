#!/usr/bin/env bash
# Script test: Debian's aws CLI (/usr/bin/aws) against a running strato.
#
# Normally started by tests/scripts/run.sh, which provides:
#   STRATO_ENDPOINT   http://127.0.0.1:PORT of a running `strato serve` (not --dev)
#   STRATO_DATA_DIR   its --data-dir (for `strato account create`)
#   STRATO_BIN        the strato binary
#   STRATO_WORK_DIR   a scratch directory this test may write keys into
#   STRATO_ROOT       the repository (for the README)
#   AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, AWS_DEFAULT_REGION
#
# Each check is one function; its result is printed as `ok - name` or
# `not ok - name: why`. The last line is `awscli: N passed, M failed`; the
# exit status is non-zero when a check failed.
set -u

. "$(dirname "$0")/awscli_lib.sh" awscli

# strip_fp removes openssl's "(stdin)= " prefix; sha256_fp prints an OpenSSH
# SHA256 fingerprint without its "SHA256:" prefix and without base64 padding.
strip_fp() { sed 's/^.*= *//'; }
sha256_fp() { ssh-keygen -l -E sha256 -f "$1" | awk '{print $2}' | sed 's/^SHA256://; s/=*$//'; }

# pubkey_of NAME prints "type base64" of a key pair as strato describes it.
pubkey_of() {
	awsx ec2 describe-key-pairs --key-names "$1" --include-public-key \
		--query 'KeyPairs[0].PublicKey' --output text | awk '{print $1, $2}'
}

# default_account prints the account ID of a profile, from the credentials file comment.
account_of_profile() {
	awk -v p="[$1]" '$0 == p {inside=1; next} /^\[/ {inside=0} inside && /^# strato account/ {print $4; exit}' \
		"$AWS_SHARED_CREDENTIALS_FILE"
}

# ---------------------------------------------------------------- catalog

test_describe_regions() {
	local names n
	names=$(awsx ec2 describe-regions --query 'Regions[].RegionName' --output text) || fail "exit $?: $(head -c 300 "$ERR")" || return 1
	n=$(wc -w <<<"$names")
	((n >= 30)) || fail "want >= 30 regions, got $n" || return 1
	grep -qw us-east-1 <<<"$names" || fail "us-east-1 missing from: $names" || return 1
	# Every region has an endpoint and an opt-in status.
	local bad
	bad=$(awsx ec2 describe-regions --query 'Regions[?Endpoint==null || OptInStatus==null].RegionName' --output text)
	[[ -z $bad ]] || fail "regions without Endpoint/OptInStatus: $bad"
}

test_describe_regions_filter() {
	local out
	out=$(awsx ec2 describe-regions --region-names eu-west-1 --query 'Regions[].[RegionName,Endpoint]' --output text) || fail "exit $?: $(head -c 300 "$ERR")" || return 1
	[[ $(awk '{print $1}' <<<"$out") == eu-west-1 ]] || fail "want only eu-west-1, got: $out" || return 1
	[[ $out == *ec2.eu-west-1.amazonaws.com* ]] || fail "endpoint: $out"
}

test_describe_availability_zones() {
	local zones n z
	zones=$(awsx --region us-east-1 ec2 describe-availability-zones --query 'AvailabilityZones[].ZoneName' --output text) || fail "exit $?: $(head -c 300 "$ERR")" || return 1
	n=$(wc -w <<<"$zones")
	((n == 6)) || fail "want 6 zones in us-east-1, got $n: $zones" || return 1
	for z in $zones; do
		[[ $z == us-east-1? ]] || fail "zone $z is not in us-east-1" || return 1
	done
	zones=$(awsx --region eu-west-1 ec2 describe-availability-zones --query 'AvailabilityZones[].ZoneName' --output text) || fail "eu-west-1: exit $?" || return 1
	[[ $zones == *eu-west-1a* && $zones != *us-east-1* ]] || fail "eu-west-1 zones: $zones"
}

test_describe_account_attributes() {
	local out
	out=$(awsx ec2 describe-account-attributes --query 'AccountAttributes[].AttributeName' --output text) || fail "exit $?: $(head -c 300 "$ERR")" || return 1
	for a in supported-platforms max-instances default-vpc; do
		grep -qw -- "$a" <<<"$out" || fail "attribute $a missing from: $out" || return 1
	done
	out=$(awsx ec2 describe-account-attributes --attribute-names max-instances --query 'AccountAttributes[].AttributeName' --output text) || fail "with --attribute-names: exit $?" || return 1
	[[ $out == max-instances ]] || fail "--attribute-names max-instances answered: $out"
}

# ---------------------------------------------------------------- key pairs

test_create_key_pair_rsa() {
	local pem=$W/cli-rsa.pem fp want got derived
	awsx ec2 create-key-pair --key-name cli-rsa --query KeyMaterial --output text >"$pem" || fail "exit $?: $(head -c 300 "$ERR")" || return 1
	chmod 600 "$pem"
	head -1 "$pem" | grep -q -- '-----BEGIN RSA PRIVATE KEY-----' || fail "not a PEM RSA key: $(head -1 "$pem")" || return 1
	derived=$(ssh-keygen -y -f "$pem" | awk '{print $1, $2}') || fail "ssh-keygen -y cannot read the key" || return 1
	got=$(pubkey_of cli-rsa)
	[[ $derived == "$got" ]] || fail "public key mismatch: derived '${derived:0:40}...' described '${got:0:40}...'" || return 1
	# AWS: fingerprint of a created RSA key = SHA-1 of the DER PKCS#8 private key.
	want=$(openssl pkcs8 -topk8 -nocrypt -in "$pem" -outform DER | openssl sha1 -c | strip_fp)
	fp=$(awsx ec2 describe-key-pairs --key-names cli-rsa --query 'KeyPairs[0].[KeyFingerprint,KeyType]' --output text)
	[[ $fp == "$want"$'\t'rsa ]] || fail "want fingerprint '$want' type rsa, got '$fp'" || return 1
	# RSA size is 2048 bits.
	ssh-keygen -l -f "$pem" | grep -q '^2048 ' || fail "not 2048 bits: $(ssh-keygen -l -f "$pem")"
}

test_create_key_pair_ed25519() {
	local pem=$W/cli-ed.pem derived got fp
	awsx ec2 create-key-pair --key-name cli-ed --key-type ed25519 --query KeyMaterial --output text >"$pem" || fail "exit $?: $(head -c 300 "$ERR")" || return 1
	chmod 600 "$pem"
	derived=$(ssh-keygen -y -f "$pem" | awk '{print $1, $2}') || fail "ssh-keygen -y cannot read: $(head -1 "$pem")" || return 1
	[[ $derived == ssh-ed25519\ * ]] || fail "not an ed25519 key: $derived" || return 1
	got=$(pubkey_of cli-ed)
	[[ $derived == "$got" ]] || fail "public key mismatch: derived '$derived' described '$got'" || return 1
	# AWS: ed25519 fingerprint = base64 SHA-256 (as OpenSSH prints it; AWS keeps the '=' padding).
	fp=$(awsx ec2 describe-key-pairs --key-names cli-ed --query 'KeyPairs[0].[KeyFingerprint,KeyType]' --output text)
	[[ ${fp%%$'\t'*} == "$(sha256_fp "$pem")"* && $fp == *$'\t'ed25519 ]] || fail "want fingerprint $(sha256_fp "$pem")(=) ed25519, got '$fp'"
}

test_create_key_pair_ppk() {
	local ppk=$W/cli-ppk.ppk derived got
	awsx ec2 create-key-pair --key-name cli-ppk --key-format ppk --query KeyMaterial --output text >"$ppk" || fail "exit $?: $(head -c 300 "$ERR")" || return 1
	head -1 "$ppk" | grep -q '^PuTTY-User-Key-File-[23]: ssh-rsa' || fail "not a PuTTY key: $(head -1 "$ppk")" || return 1
	if command -v puttygen >/dev/null; then
		derived=$(puttygen "$ppk" -O public-openssh -o /dev/stdout 2>&1 | awk '{print $1, $2}') || fail "puttygen cannot read it: $derived" || return 1
		got=$(pubkey_of cli-ppk)
		[[ $derived == "$got" ]] || fail "public key mismatch: puttygen '${derived:0:40}...' described '${got:0:40}...'" || return 1
	fi
	local ed=$W/cli-ppk-ed.ppk
	awsx ec2 create-key-pair --key-name cli-ppk-ed --key-type ed25519 --key-format ppk --query KeyMaterial --output text >"$ed" || fail "ed25519 ppk: exit $?: $(head -c 300 "$ERR")" || return 1
	head -1 "$ed" | grep -q '^PuTTY-User-Key-File-[23]: ssh-ed25519' || fail "ed25519 ppk header: $(head -1 "$ed")"
}

test_create_key_pair_with_tags() {
	local out
	out=$(awsx ec2 create-key-pair --key-name cli-tagged \
		--tag-specifications 'ResourceType=key-pair,Tags=[{Key=env,Value=test},{Key=team,Value=infra}]' \
		--query 'Tags[?Key==`env`].Value' --output text) || fail "exit $?: $(head -c 300 "$ERR")" || return 1
	[[ $out == test ]] || fail "CreateKeyPair answer tags: '$out'" || return 1
	out=$(awsx ec2 describe-key-pairs --key-names cli-tagged --query 'KeyPairs[0].Tags[?Key==`team`].Value' --output text)
	[[ $out == infra ]] || fail "described tags: '$out'"
}

test_import_key_pair_ed25519() {
	local k=$W/imp-ed fp id
	ssh-keygen -q -t ed25519 -N '' -C 'imported ed25519' -f "$k" || fail "ssh-keygen failed" || return 1
	id=$(awsx ec2 import-key-pair --key-name cli-imp-ed --public-key-material "fileb://$k.pub" --query KeyPairId --output text) || fail "exit $?: $(head -c 300 "$ERR")" || return 1
	[[ $id == key-* ]] || fail "KeyPairId '$id'" || return 1
	fp=$(awsx ec2 describe-key-pairs --key-pair-ids "$id" --query 'KeyPairs[0].[KeyName,KeyFingerprint,KeyType]' --output text)
	[[ $fp == cli-imp-ed$'\t'"$(sha256_fp "$k.pub")"*$'\t'ed25519 ]] || fail "want cli-imp-ed $(sha256_fp "$k.pub")(=) ed25519, got '$fp'" || return 1
	[[ $(pubkey_of cli-imp-ed) == "$(awk '{print $1, $2}' "$k.pub")" ]] || fail "described public key differs from the imported one"
}

test_import_key_pair_rsa4096() {
	local k=$W/imp-rsa fp want
	ssh-keygen -q -t rsa -b 4096 -N '' -f "$k" || fail "ssh-keygen failed" || return 1
	fp=$(awsx ec2 import-key-pair --key-name cli-imp-rsa --public-key-material "fileb://$k.pub" --query KeyFingerprint --output text) || fail "exit $?: $(head -c 300 "$ERR")" || return 1
	# AWS: fingerprint of an imported RSA key = MD5 of the DER public key.
	want=$(ssh-keygen -e -m PKCS8 -f "$k.pub" | openssl pkey -pubin -outform DER | openssl md5 -c | strip_fp)
	[[ $fp == "$want" ]] || fail "ImportKeyPair fingerprint: want $want, got $fp" || return 1
	fp=$(awsx ec2 describe-key-pairs --key-names cli-imp-rsa --query 'KeyPairs[0].[KeyFingerprint,KeyType]' --output text)
	[[ $fp == "$want"$'\t'rsa ]] || fail "described: '$fp'"
}

test_describe_key_pairs_names_and_ids() {
	local out id
	out=$(awsx ec2 describe-key-pairs --key-names cli-rsa cli-ed --query 'sort(KeyPairs[].KeyName)' --output text) || fail "exit $?: $(head -c 300 "$ERR")" || return 1
	[[ $out == "cli-ed"$'\t'"cli-rsa" ]] || fail "--key-names cli-rsa cli-ed: '$out'" || return 1
	id=$(awsx ec2 describe-key-pairs --key-names cli-rsa --query 'KeyPairs[0].KeyPairId' --output text)
	out=$(awsx ec2 describe-key-pairs --key-pair-ids "$id" --query 'KeyPairs[].KeyName' --output text)
	[[ $out == cli-rsa ]] || fail "--key-pair-ids $id: '$out'" || return 1
	# Without --include-public-key no PublicKey is returned.
	out=$(awsx ec2 describe-key-pairs --key-names cli-rsa --query 'KeyPairs[0].PublicKey' --output text)
	[[ $out == None ]] || fail "PublicKey returned without --include-public-key: '${out:0:30}'"
}

test_describe_key_pairs_filters() {
	local out id fp
	read -r id fp < <(awsx ec2 describe-key-pairs --key-names cli-rsa --query 'KeyPairs[0].[KeyPairId,KeyFingerprint]' --output text)
	out=$(awsx ec2 describe-key-pairs --filters Name=key-name,Values=cli-rsa --query 'KeyPairs[].KeyName' --output text) || fail "key-name: exit $?: $(head -c 300 "$ERR")" || return 1
	[[ $out == cli-rsa ]] || fail "key-name=cli-rsa: '$out'" || return 1
	out=$(awsx ec2 describe-key-pairs --filters 'Name=key-name,Values=cli-imp-*' --query 'sort(KeyPairs[].KeyName)' --output text)
	[[ $out == "cli-imp-ed"$'\t'"cli-imp-rsa" ]] || fail "key-name=cli-imp-* (wildcard): '$out'" || return 1
	out=$(awsx ec2 describe-key-pairs --filters "Name=key-pair-id,Values=$id" --query 'KeyPairs[].KeyName' --output text)
	[[ $out == cli-rsa ]] || fail "key-pair-id=$id: '$out'" || return 1
	out=$(awsx ec2 describe-key-pairs --filters "Name=fingerprint,Values=$fp" --query 'KeyPairs[].KeyName' --output text)
	[[ $out == cli-rsa ]] || fail "fingerprint=$fp: '$out'" || return 1
	out=$(awsx ec2 describe-key-pairs --filters Name=tag:env,Values=test --query 'KeyPairs[].KeyName' --output text)
	[[ $out == cli-tagged ]] || fail "tag:env=test: '$out'" || return 1
	out=$(awsx ec2 describe-key-pairs --filters Name=tag-key,Values=team --query 'KeyPairs[].KeyName' --output text)
	[[ $out == cli-tagged ]] || fail "tag-key=team: '$out'" || return 1
	out=$(awsx ec2 describe-key-pairs --filters Name=key-name,Values=no-such-key --query 'length(KeyPairs)' --output text)
	[[ $out == 0 ]] || fail "filter matching nothing must give an empty list, got '$out'" || return 1
	# Two values of one filter are ORed; two filters are ANDed.
	out=$(awsx ec2 describe-key-pairs --filters Name=key-name,Values=cli-rsa,cli-ed --query 'length(KeyPairs)' --output text)
	[[ $out == 2 ]] || fail "key-name=cli-rsa,cli-ed (OR): want 2, got '$out'" || return 1
	out=$(awsx ec2 describe-key-pairs --filters Name=key-name,Values=cli-rsa Name=tag:env,Values=test --query 'length(KeyPairs)' --output text)
	[[ $out == 0 ]] || fail "key-name=cli-rsa AND tag:env=test: want 0, got '$out'"
}

test_tags() {
	local id out
	id=$(awsx ec2 describe-key-pairs --key-names cli-ed --query 'KeyPairs[0].KeyPairId' --output text)
	awsx ec2 create-tags --resources "$id" --tags Key=Name,Value=web Key=stage,Value=prod >/dev/null || fail "create-tags: exit $?: $(head -c 300 "$ERR")" || return 1
	out=$(awsx ec2 describe-tags --filters "Name=resource-id,Values=$id" --query 'sort_by(Tags,&Key)[].[Key,Value,ResourceType]' --output text) || fail "describe-tags: exit $?: $(head -c 300 "$ERR")" || return 1
	[[ $out == "Name"$'\t'"web"$'\t'"key-pair"$'\n'"stage"$'\t'"prod"$'\t'"key-pair" ]] || fail "describe-tags: '$out'" || return 1
	out=$(awsx ec2 describe-tags --filters Name=key,Values=stage Name=resource-type,Values=key-pair --query 'Tags[].ResourceId' --output text)
	[[ $out == "$id" ]] || fail "describe-tags key=stage: '$out'" || return 1
	# Overwrite a value.
	awsx ec2 create-tags --resources "$id" --tags Key=stage,Value=dev >/dev/null || fail "create-tags overwrite: exit $?" || return 1
	out=$(awsx ec2 describe-tags --filters "Name=resource-id,Values=$id" Name=key,Values=stage --query 'Tags[].Value' --output text)
	[[ $out == dev ]] || fail "after overwrite: '$out'" || return 1
	# delete-tags with a value deletes only when the value matches.
	awsx ec2 delete-tags --resources "$id" --tags Key=stage,Value=other >/dev/null || fail "delete-tags (value mismatch): exit $?" || return 1
	out=$(awsx ec2 describe-tags --filters "Name=resource-id,Values=$id" --query 'length(Tags)' --output text)
	[[ $out == 2 ]] || fail "delete-tags with a different value removed a tag (left $out)" || return 1
	awsx ec2 delete-tags --resources "$id" --tags Key=stage >/dev/null || fail "delete-tags: exit $?" || return 1
	out=$(awsx ec2 describe-tags --filters "Name=resource-id,Values=$id" --query 'Tags[].Key' --output text)
	[[ $out == Name ]] || fail "after delete-tags stage: '$out'" || return 1
	out=$(awsx ec2 describe-key-pairs --key-pair-ids "$id" --query 'KeyPairs[0].Tags[].Key' --output text)
	[[ $out == Name ]] || fail "describe-key-pairs tags after delete: '$out'"
}

test_tags_unknown_resource() {
	awsx ec2 create-tags --resources key-0123456789abcdef0 --tags Key=a,Value=b >/dev/null
	expect_error $? "InvalidKeyPair.NotFound|InvalidKeyPairId.NotFound"
}

# ---------------------------------------------------------------- errors

test_error_not_found() {
	awsx ec2 describe-key-pairs --key-names no-such-key >/dev/null
	expect_error $? InvalidKeyPair.NotFound || return 1
	awsx ec2 describe-key-pairs --key-pair-ids key-0123456789abcdef0 >/dev/null
	expect_error $? InvalidKeyPair.NotFound
}

test_error_duplicate() {
	awsx ec2 create-key-pair --key-name cli-rsa >/dev/null
	expect_error $? InvalidKeyPair.Duplicate || return 1
	awsx ec2 import-key-pair --key-name cli-rsa --public-key-material "fileb://$W/imp-ed.pub" >/dev/null
	expect_error $? InvalidKeyPair.Duplicate
}

test_error_bad_public_key() {
	printf 'ssh-rsa not-base64!! x\n' >"$W/bad.pub"
	awsx ec2 import-key-pair --key-name cli-bad --public-key-material "fileb://$W/bad.pub" >/dev/null
	expect_error $? InvalidKey.Format || return 1
	awsx ec2 describe-key-pairs --key-names cli-bad >/dev/null
	expect_error $? InvalidKeyPair.NotFound
}

test_error_unsupported_operation() {
	awsx ec2 describe-spot-price-history >/dev/null
	expect_error $? UnsupportedOperation || return 1
	grep -q DescribeSpotPriceHistory "$ERR" || fail "the message does not name DescribeSpotPriceHistory: $(cat "$ERR")"
}

test_error_bad_signature() {
	local akid
	akid=$(awk -F' *= *' '$1 == "aws_access_key_id" {print $2; exit}' "$AWS_SHARED_CREDENTIALS_FILE")
	AWS_ACCESS_KEY_ID=$akid AWS_SECRET_ACCESS_KEY=wrongwrongwrongwrongwrongwrongwrongwrong \
		awsx ec2 describe-regions >/dev/null
	local rc=$?
	grep -Eq '\((AuthFailure|SignatureDoesNotMatch)\)' "$ERR" || fail "wrong secret: exit $rc, stderr: $(head -c 300 "$ERR")" || return 1
	[[ $rc == 254 || $rc == 255 ]] || fail "wrong secret: exit $rc" || return 1
	AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
		awsx ec2 describe-regions >/dev/null
	rc=$?
	grep -Eq '\((AuthFailure|InvalidClientTokenId|UnrecognizedClientException)\)' "$ERR" || fail "unknown access key: exit $rc, stderr: $(head -c 300 "$ERR")"
}

test_dry_run() {
	awsx ec2 create-key-pair --key-name cli-dry --dry-run >/dev/null
	expect_error $? DryRunOperation || return 1
	awsx ec2 describe-key-pairs --key-names cli-dry >/dev/null
	expect_error $? InvalidKeyPair.NotFound || fail "dry-run created the key pair: $WHY" || return 1
	awsx ec2 delete-key-pair --key-name cli-rsa --dry-run >/dev/null
	expect_error $? DryRunOperation || return 1
	awsx ec2 describe-key-pairs --key-names cli-rsa >/dev/null || fail "dry-run delete removed cli-rsa" || return 1
	awsx ec2 describe-regions --dry-run >/dev/null
	expect_error $? DryRunOperation
}

test_delete_key_pair() {
	local out
	awsx ec2 create-key-pair --key-name cli-doomed >/dev/null || fail "create: exit $?" || return 1
	out=$(awsx ec2 delete-key-pair --key-name cli-doomed --query Return --output text) || fail "delete: exit $?: $(head -c 300 "$ERR")" || return 1
	# The CLI's bundled model may predate DeleteKeyPair's Return element (then: None).
	[[ $out == True || $out == None ]] || fail "delete-key-pair Return: '$out'" || return 1
	awsx ec2 describe-key-pairs --key-names cli-doomed >/dev/null
	expect_error $? InvalidKeyPair.NotFound || return 1
	# The name can be used again.
	awsx ec2 create-key-pair --key-name cli-doomed >/dev/null || fail "re-create after delete: exit $?: $(head -c 300 "$ERR")" || return 1
	local id
	id=$(awsx ec2 describe-key-pairs --key-names cli-doomed --query 'KeyPairs[0].KeyPairId' --output text)
	awsx ec2 delete-key-pair --key-pair-id "$id" >/dev/null || fail "delete by id: exit $?" || return 1
	awsx ec2 describe-key-pairs --key-pair-ids "$id" >/dev/null
	expect_error $? InvalidKeyPair.NotFound
}

test_delete_missing_key_pair_succeeds() {
	awsx ec2 delete-key-pair --key-name never-existed >/dev/null || fail "exit $?: $(head -c 300 "$ERR")"
}

# ---------------------------------------------------------------- accounts

test_tenant_isolation() {
	local out akid
	"$STRATO_BIN" account create --name tenant2 --data-dir "$STRATO_DATA_DIR" >"$W/account.out" 2>&1 || fail "strato account create: $(tail -3 "$W/account.out")" || return 1
	grep -q '^\[tenant2\]' "$AWS_SHARED_CREDENTIALS_FILE" || fail "no [tenant2] profile in the credentials file" || return 1
	out=$(awsx --profile tenant2 ec2 describe-key-pairs --query 'length(KeyPairs)' --output text) || fail "tenant2 describe: exit $?: $(head -c 300 "$ERR")" || return 1
	[[ $out == 0 ]] || fail "tenant2 sees $out key pairs of another account" || return 1
	awsx --profile tenant2 ec2 describe-key-pairs --key-names cli-rsa >/dev/null
	expect_error $? InvalidKeyPair.NotFound || return 1
	out=$(awsx --profile tenant2 ec2 describe-tags --query 'length(Tags)' --output text)
	[[ $out == 0 ]] || fail "tenant2 sees $out tags of another account" || return 1
	awsx --profile tenant2 ec2 create-key-pair --key-name cli-rsa >/dev/null || fail "tenant2 cannot create its own cli-rsa: $(head -c 300 "$ERR")" || return 1
	local id1 id2
	id1=$(awsx ec2 describe-key-pairs --key-names cli-rsa --query 'KeyPairs[0].KeyPairId' --output text)
	id2=$(awsx --profile tenant2 ec2 describe-key-pairs --key-names cli-rsa --query 'KeyPairs[0].KeyPairId' --output text)
	[[ $id1 != "$id2" && $id2 == key-* ]] || fail "key pair IDs: default $id1, tenant2 $id2" || return 1
	# tenant2 cannot delete or tag the default account's key.
	awsx --profile tenant2 ec2 create-tags --resources "$id1" --tags Key=x,Value=y >/dev/null
	expect_error $? "InvalidKeyPair.NotFound|InvalidKeyPairId.NotFound" || return 1
	awsx --profile tenant2 ec2 delete-key-pair --key-pair-id "$id1" >/dev/null
	awsx ec2 describe-key-pairs --key-pair-ids "$id1" >/dev/null || fail "tenant2 deleted the default account's key $id1" || return 1
	local a1 a2
	a1=$(awsx sts get-caller-identity --query Account --output text)
	a2=$(awsx --profile tenant2 sts get-caller-identity --query Account --output text)
	[[ $a1 != "$a2" && $a2 == "$(account_of_profile tenant2)" ]] || fail "accounts: default $a1, tenant2 $a2 (credentials file says $(account_of_profile tenant2))"
}

test_sts_get_caller_identity() {
	local out want
	want=$(account_of_profile default)
	out=$(awsx sts get-caller-identity --query '[Account,Arn]' --output text) || fail "exit $?: $(head -c 300 "$ERR")" || return 1
	[[ -n $want ]] || fail "no account ID comment for [default] in the credentials file" || return 1
	[[ $out == "$want"$'\t'"arn:aws:iam::$want:"* ]] || fail "want account $want, got '$out'"
}

# ---------------------------------------------------------------- instance types

test_describe_instance_types() {
	local out rc
	out=$(awsx ec2 describe-instance-types --instance-types t3.micro \
		--query 'InstanceTypes[].[InstanceType,VCpuInfo.DefaultVCpus,MemoryInfo.SizeInMiB]' --output text)
	rc=$?
	((rc == 0)) || fail "exit $rc: $(head -c 300 "$ERR")" || return 1
	[[ $out == "t3.micro"$'\t'"2"$'\t'"1024" ]] || fail "t3.micro: '$out'" || return 1
	awsx ec2 describe-instance-types --instance-types t3.nosuch >/dev/null
	expect_error $? InvalidInstanceType
}

test_describe_instance_type_offerings() {
	local out rc
	out=$(awsx --region us-east-1 ec2 describe-instance-type-offerings --location-type availability-zone \
		--filters Name=instance-type,Values=t3.micro --query 'InstanceTypeOfferings[].Location' --output text)
	rc=$?
	((rc == 0)) || fail "exit $rc: $(head -c 300 "$ERR")" || return 1
	[[ -n $out ]] || fail "no offerings of t3.micro" || return 1
	for z in $out; do [[ $z == us-east-1? ]] || fail "location $z" || return 1; done
}

# ---------------------------------------------------------------- VPCs

test_vpc_lifecycle() {
	local vpc out
	vpc=$(awsx ec2 create-vpc --cidr-block 10.30.0.0/16 --tag-specifications 'ResourceType=vpc,Tags=[{Key=Name,Value=cli}]' \
		--query Vpc.VpcId --output text) || fail "create-vpc exit $?: $(head -c 300 "$ERR")" || return 1
	out=$(awsx ec2 describe-vpcs --filters Name=tag:Name,Values=cli --query 'Vpcs[].[VpcId,CidrBlock,State]' --output text) ||
		fail "describe-vpcs exit $?" || return 1
	[[ $out == "$vpc"$'\t'"10.30.0.0/16"$'\t'"available" ]] || fail "described as '$out'" || return 1
	awsx ec2 create-vpc --cidr-block 10.0.0.0/15 >/dev/null
	expect_error $? InvalidVpc.Range || return 1
	awsx ec2 modify-vpc-attribute --vpc-id "$vpc" --enable-dns-hostnames '{"Value":true}' || fail "modify exit $?" || return 1
	out=$(awsx ec2 describe-vpc-attribute --vpc-id "$vpc" --attribute enableDnsHostnames --query EnableDnsHostnames.Value --output text)
	[[ $out == True ]] || fail "enableDnsHostnames is '$out'" || return 1
	local subnet
	subnet=$(awsx ec2 create-subnet --vpc-id "$vpc" --cidr-block 10.30.1.0/24 --availability-zone us-east-1a \
		--query Subnet.SubnetId --output text) || fail "create-subnet exit $?: $(head -c 300 "$ERR")" || return 1
	out=$(awsx ec2 describe-subnets --filters "Name=vpc-id,Values=$vpc" --query 'Subnets[].[CidrBlock,AvailableIpAddressCount,AvailabilityZone]' --output text)
	[[ $out == "10.30.1.0/24"$'\t'"251"$'\t'"us-east-1a" ]] || fail "subnet described as '$out'" || return 1
	awsx ec2 create-subnet --vpc-id "$vpc" --cidr-block 10.30.1.128/25 >/dev/null
	expect_error $? InvalidSubnet.Conflict || return 1
	awsx ec2 delete-vpc --vpc-id "$vpc" >/dev/null
	expect_error $? DependencyViolation || return 1
	awsx ec2 delete-subnet --subnet-id "$subnet" || fail "delete-subnet exit $?" || return 1
	local igw
	igw=$(awsx ec2 create-internet-gateway --query InternetGateway.InternetGatewayId --output text) || fail "create-internet-gateway exit $?" || return 1
	awsx ec2 attach-internet-gateway --internet-gateway-id "$igw" --vpc-id "$vpc" || fail "attach exit $?: $(head -c 300 "$ERR")" || return 1
	out=$(awsx ec2 describe-internet-gateways --internet-gateway-ids "$igw" --query 'InternetGateways[0].Attachments[0].[VpcId,State]' --output text)
	[[ $out == "$vpc"$'\t'"available" ]] || fail "attachment '$out'" || return 1
	awsx ec2 delete-vpc --vpc-id "$vpc" >/dev/null
	expect_error $? DependencyViolation || return 1
	awsx ec2 detach-internet-gateway --internet-gateway-id "$igw" --vpc-id "$vpc" || fail "detach exit $?" || return 1
	awsx ec2 delete-internet-gateway --internet-gateway-id "$igw" || fail "delete-internet-gateway exit $?" || return 1
	awsx ec2 delete-vpc --vpc-id "$vpc" || fail "delete exit $?" || return 1
	awsx ec2 describe-vpcs --vpc-ids "$vpc" >/dev/null
	expect_error $? InvalidVpcID.NotFound
}

# ---------------------------------------------------------------- documented commands

# The command the credentials file is made for: no region configured anywhere (the
# profile strato writes carries one).
test_credentials_file_alone() {
	local n
	n=$(env -u AWS_DEFAULT_REGION -u AWS_REGION -u AWS_CONFIG_FILE HOME="$W/empty-home" \
		AWS_SHARED_CREDENTIALS_FILE="$STRATO_DATA_DIR/credentials" \
		"$AWS_BIN" --endpoint-url "$STRATO_ENDPOINT" ec2 describe-regions --query 'length(Regions)' 2>"$ERR") ||
		fail "exit $?: $(head -c 300 "$ERR")" || return 1
	((n >= 30)) || fail "got $n regions"
}

# The README's "use it with the aws CLI" block, run as written but for where the
# strato binary and its data dir are.
test_readme_example() {
	local block dir=$W/readme
	block=$(awk '/^## Use it with the aws CLI/{f=1} f&&/^```sh/{c=1;next} c&&/^```/{exit} c' "$STRATO_ROOT/README.md")
	[[ $(grep -c . <<<"$block") -ge 5 ]] || fail "README example not found" || return 1
	block=${block//'./strato env'/'"$STRATO_BIN" env --data-dir "$STRATO_DATA_DIR"'}
	mkdir -p "$dir"
	(cd "$dir" && env -u AWS_DEFAULT_REGION -u AWS_REGION -u AWS_SHARED_CREDENTIALS_FILE PATH="$(dirname "$AWS_BIN"):$PATH" \
		bash -euo pipefail -c "$block") >"$dir/out" 2>"$ERR" || fail "exit $?: $(head -c 300 "$ERR")" || return 1
	chmod 600 "$dir/demo.pem" # ssh-keygen, like ssh, refuses keys others can read
	ssh-keygen -y -f "$dir/demo.pem" >/dev/null 2>&1 || fail "demo.pem is not a private key" || return 1
	grep -q 1024 "$dir/out" || fail "no t3.micro memory size in: $(head -c 300 "$dir/out")"
}

# ---------------------------------------------------------------- main

CHECKS=(
	test_describe_regions
	test_describe_regions_filter
	test_describe_availability_zones
	test_describe_account_attributes
	test_create_key_pair_rsa
	test_create_key_pair_ed25519
	test_create_key_pair_ppk
	test_create_key_pair_with_tags
	test_import_key_pair_ed25519
	test_import_key_pair_rsa4096
	test_describe_key_pairs_names_and_ids
	test_describe_key_pairs_filters
	test_tags
	test_tags_unknown_resource
	test_error_not_found
	test_error_duplicate
	test_error_bad_public_key
	test_error_unsupported_operation
	test_error_bad_signature
	test_dry_run
	test_delete_key_pair
	test_delete_missing_key_pair_succeeds
	test_tenant_isolation
	test_sts_get_caller_identity
	test_describe_instance_types
	test_describe_instance_type_offerings
	test_vpc_lifecycle
	test_credentials_file_alone
	test_readme_example
)
for c in "${CHECKS[@]}"; do check "$c"; done
summary awscli
