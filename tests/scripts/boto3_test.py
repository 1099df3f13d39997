#!/usr/bin/python3
"""Script test: Debian's boto3 (python3-boto3) against a running strato.

Run with /usr/bin/python3 by tests/scripts/run.sh, which provides
STRATO_ENDPOINT, STRATO_DATA_DIR, STRATO_BIN, STRATO_WORK_DIR and
AWS_SHARED_CREDENTIALS_FILE. The last line printed is
`boto3: N passed, M failed`; the exit status is non-zero on failure.
"""

import base64
import hashlib
import os
import subprocess
import sys
import unittest

import boto3
import botocore.config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["STRATO_ENDPOINT"]
DATA_DIR = os.environ["STRATO_DATA_DIR"]
STRATO_BIN = os.environ["STRATO_BIN"]
WORK_DIR = os.path.join(os.environ["STRATO_WORK_DIR"], "boto3")
CREDENTIALS = os.environ["AWS_SHARED_CREDENTIALS_FILE"]
REGION = "us-east-1"
PREFIX = "py-"

for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
    os.environ.pop(var, None)


def client(service="ec2", profile="default", region=REGION, **keys):
    cfg = botocore.config.Config(retries={"mode": "standard", "max_attempts": 3})
    if keys:
        session = boto3.session.Session(region_name=region, **keys)
    else:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    return session.client(service, endpoint_url=ENDPOINT, config=cfg)


def account_of_profile(profile):
    """The account ID strato writes as a comment under each profile."""
    current = None
    with open(CREDENTIALS) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                current = line[1:-1]
            elif current == profile and line.startswith("# strato account"):
                return line.split()[3]
    return None


def run(*argv, stdin=None):
    return subprocess.run(argv, input=stdin, capture_output=True, check=True).stdout


def openssh_sha256(pub_line):
    """OpenSSH's SHA256 fingerprint of an authorized_keys line, base64 without padding."""
    blob = base64.b64decode(pub_line.split()[1])
    return base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


class Base(unittest.TestCase):
    ec2 = None

    @classmethod
    def setUpClass(cls):
        os.makedirs(WORK_DIR, exist_ok=True)
        cls.ec2 = client()

    def assertCode(self, cm, *codes):
        err = cm.exception.response["Error"]
        self.assertIn(err["Code"], codes, "message: %s" % err.get("Message"))
        return err


class Catalog(Base):
    def test_describe_regions(self):
        regions = self.ec2.describe_regions()["Regions"]
        names = {r["RegionName"] for r in regions}
        self.assertGreaterEqual(len(names), 30)
        self.assertIn("us-east-1", names)
        for r in regions:
            self.assertTrue(r["Endpoint"].startswith("ec2."), r)
            self.assertIn(r["OptInStatus"], ("opt-in-not-required", "opted-in", "not-opted-in"))

    def test_describe_regions_all_regions(self):
        default = {r["RegionName"] for r in self.ec2.describe_regions()["Regions"]}
        every = {r["RegionName"] for r in self.ec2.describe_regions(AllRegions=True)["Regions"]}
        self.assertLessEqual(default, every)

    def test_describe_availability_zones(self):
        zones = self.ec2.describe_availability_zones()["AvailabilityZones"]
        self.assertEqual(len(zones), 6, [z["ZoneName"] for z in zones])
        for z in zones:
            self.assertEqual(z["RegionName"], REGION)
            self.assertRegex(z["ZoneName"], r"^us-east-1[a-f]$")
            self.assertRegex(z["ZoneId"], r"^use1-az\d$")
            self.assertEqual(z["State"], "available")
        other = client(region="eu-west-1").describe_availability_zones()["AvailabilityZones"]
        self.assertTrue(other and all(z["RegionName"] == "eu-west-1" for z in other))

    def test_describe_account_attributes(self):
        attrs = {a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
                 for a in self.ec2.describe_account_attributes()["AccountAttributes"]}
        self.assertEqual(attrs.get("supported-platforms"), ["VPC"])
        self.assertIn("max-instances", attrs)
        self.assertTrue(attrs["max-instances"][0].isdigit())

    def test_sts_get_caller_identity(self):
        ident = client("sts").get_caller_identity()
        want = account_of_profile("default")
        self.assertEqual(ident["Account"], want)
        self.assertTrue(ident["Arn"].startswith("arn:aws:iam::%s:" % want), ident["Arn"])

    def _tolerate_unsupported(self, call):
        try:
            return call()
        except ClientError as e:
            if e.response["Error"]["Code"] == "UnsupportedOperation":
                self.skipTest("UnsupportedOperation (not implemented yet; tolerated)")
            raise

    def test_describe_instance_types(self):
        out = self._tolerate_unsupported(
            lambda: self.ec2.describe_instance_types(InstanceTypes=["t3.micro"]))
        [it] = out["InstanceTypes"]
        self.assertEqual(it["InstanceType"], "t3.micro")
        self.assertEqual(it["VCpuInfo"]["DefaultVCpus"], 2)
        self.assertEqual(it["MemoryInfo"]["SizeInMiB"], 1024)

    def test_describe_instance_types_paginator(self):
        pages = self._tolerate_unsupported(lambda: list(
            self.ec2.get_paginator("describe_instance_types").paginate(
                PaginationConfig={"PageSize": 50})))
        names = [it["InstanceType"] for p in pages for it in p["InstanceTypes"]]
        self.assertEqual(len(names), len(set(names)), "an instance type appears twice")
        self.assertGreater(len(names), 50)
        self.assertIn("t3.micro", names)

    def test_describe_instance_type_offerings(self):
        out = self._tolerate_unsupported(lambda: self.ec2.describe_instance_type_offerings(
            LocationType="availability-zone",
            Filters=[{"Name": "instance-type", "Values": ["t3.micro"]}]))
        locs = [o["Location"] for o in out["InstanceTypeOfferings"]]
        self.assertTrue(locs)
        for loc in locs:
            self.assertRegex(loc, r"^us-east-1[a-f]$")


class KeyPairs(Base):
    def test_create_rsa_matches_private_key(self):
        out = self.ec2.create_key_pair(KeyName=PREFIX + "rsa")
        self.assertTrue(out["KeyPairId"].startswith("key-"))
        pem = os.path.join(WORK_DIR, "rsa.pem")
        with open(pem, "w") as f:
            f.write(out["KeyMaterial"])
        os.chmod(pem, 0o600)
        derived = run("ssh-keygen", "-y", "-f", pem).decode().split()[:2]
        desc = self.ec2.describe_key_pairs(KeyNames=[PREFIX + "rsa"], IncludePublicKey=True)["KeyPairs"][0]
        self.assertEqual(desc["PublicKey"].split()[:2], derived)
        self.assertEqual(desc["KeyType"], "rsa")
        # SHA-1 of the DER PKCS#8 private key, colon separated.
        der = run("openssl", "pkcs8", "-topk8", "-nocrypt", "-in", pem, "-outform", "DER")
        want = ":".join("%02x" % b for b in hashlib.sha1(der).digest())
        self.assertEqual(out["KeyFingerprint"], want)
        self.assertEqual(desc["KeyFingerprint"], want)

    def test_create_ed25519(self):
        out = self.ec2.create_key_pair(KeyName=PREFIX + "ed", KeyType="ed25519")
        pem = os.path.join(WORK_DIR, "ed.pem")
        with open(pem, "w") as f:
            f.write(out["KeyMaterial"])
        os.chmod(pem, 0o600)
        pub = run("ssh-keygen", "-y", "-f", pem).decode()
        self.assertTrue(pub.startswith("ssh-ed25519 "))
        self.assertEqual(out["KeyFingerprint"].rstrip("="), openssh_sha256(pub))

    def test_create_ppk(self):
        out = self.ec2.create_key_pair(KeyName=PREFIX + "ppk", KeyFormat="ppk")
        self.assertRegex(out["KeyMaterial"], r"^PuTTY-User-Key-File-[23]: ssh-rsa")

    def test_create_with_tags(self):
        out = self.ec2.create_key_pair(KeyName=PREFIX + "tagged", TagSpecifications=[{
            "ResourceType": "key-pair", "Tags": [{"Key": "env", "Value": "py"}]}])
        self.assertEqual(out.get("Tags"), [{"Key": "env", "Value": "py"}])
        desc = self.ec2.describe_key_pairs(Filters=[{"Name": "tag:env", "Values": ["py"]}])["KeyPairs"]
        self.assertEqual([k["KeyName"] for k in desc], [PREFIX + "tagged"])

    def test_import_ed25519_and_rsa(self):
        for typ, extra in (("ed25519", []), ("rsa", ["-b", "4096"])):
            path = os.path.join(WORK_DIR, "imp-" + typ)
            if not os.path.exists(path):
                run("ssh-keygen", "-q", "-t", typ, *extra, "-N", "", "-f", path)
            with open(path + ".pub", "rb") as f:
                material = f.read()
            out = self.ec2.import_key_pair(KeyName=PREFIX + "imp-" + typ, PublicKeyMaterial=material)
            if typ == "rsa":
                der = run("openssl", "pkey", "-pubin", "-outform", "DER",
                          stdin=run("ssh-keygen", "-e", "-m", "PKCS8", "-f", path + ".pub"))
                want = ":".join("%02x" % b for b in hashlib.md5(der).digest())
                self.assertEqual(out["KeyFingerprint"], want)
            else:
                self.assertEqual(out["KeyFingerprint"].rstrip("="), openssh_sha256(material.decode()))
            desc = self.ec2.describe_key_pairs(KeyPairIds=[out["KeyPairId"]], IncludePublicKey=True)["KeyPairs"][0]
            self.assertEqual(desc["KeyType"], typ)
            self.assertEqual(desc["PublicKey"].split()[:2], material.decode().split()[:2])

    def test_errors(self):
        self.ec2.create_key_pair(KeyName=PREFIX + "dup")
        with self.assertRaises(ClientError) as cm:
            self.ec2.create_key_pair(KeyName=PREFIX + "dup")
        self.assertCode(cm, "InvalidKeyPair.Duplicate")
        with self.assertRaises(ClientError) as cm:
            self.ec2.describe_key_pairs(KeyNames=[PREFIX + "missing"])
        self.assertCode(cm, "InvalidKeyPair.NotFound")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        with self.assertRaises(ClientError) as cm:
            self.ec2.import_key_pair(KeyName=PREFIX + "bad", PublicKeyMaterial=b"ssh-rsa AAAAnotakey")
        self.assertCode(cm, "InvalidKey.Format")
        with self.assertRaises(ClientError) as cm:
            self.ec2.describe_spot_price_history()
        err = self.assertCode(cm, "UnsupportedOperation")
        self.assertIn("DescribeSpotPriceHistory", err["Message"])

    def test_missing_parameter(self):
        with self.assertRaises(ClientError) as cm:
            self.ec2.import_key_pair(KeyName=PREFIX + "nomaterial", PublicKeyMaterial=b"")
        self.assertCode(cm, "MissingParameter", "InvalidParameterValue", "InvalidKey.Format")

    def test_bad_signature(self):
        session = boto3.session.Session(profile_name="default")
        real = session.get_credentials()
        bad = client(aws_access_key_id=real.access_key, aws_secret_access_key="x" * 40)
        with self.assertRaises(ClientError) as cm:
            bad.describe_regions()
        self.assertCode(cm, "AuthFailure", "SignatureDoesNotMatch")
        unknown = client(aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                         aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        with self.assertRaises(ClientError) as cm:
            unknown.describe_regions()
        self.assertCode(cm, "AuthFailure", "InvalidClientTokenId", "UnrecognizedClientException")

    def test_dry_run(self):
        with self.assertRaises(ClientError) as cm:
            self.ec2.create_key_pair(KeyName=PREFIX + "dry", DryRun=True)
        self.assertCode(cm, "DryRunOperation")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 412)
        with self.assertRaises(ClientError) as cm:
            self.ec2.describe_key_pairs(KeyNames=[PREFIX + "dry"])
        self.assertCode(cm, "InvalidKeyPair.NotFound")

    def test_delete(self):
        kid = self.ec2.create_key_pair(KeyName=PREFIX + "doomed")["KeyPairId"]
        self.ec2.delete_key_pair(KeyPairId=kid)
        with self.assertRaises(ClientError) as cm:
            self.ec2.describe_key_pairs(KeyPairIds=[kid])
        self.assertCode(cm, "InvalidKeyPair.NotFound")
        # Deleting a name that does not exist succeeds, as on AWS.
        self.ec2.delete_key_pair(KeyName=PREFIX + "never-existed")


class Tags(Base):
    def test_paginate_describe_tags(self):
        """>= 12 tagged key pairs, paged 5 at a time: every tag exactly once."""
        pub = os.path.join(WORK_DIR, "page")
        if not os.path.exists(pub):
            run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", pub)
        with open(pub + ".pub", "rb") as f:
            material = f.read()
        want = set()
        for i in range(13):
            kid = self.ec2.import_key_pair(
                KeyName="%spage-%02d" % (PREFIX, i), PublicKeyMaterial=material,
                TagSpecifications=[{"ResourceType": "key-pair", "Tags": [
                    {"Key": "page-test", "Value": str(i)}, {"Key": "idx%02d" % i, "Value": ""}]}],
            )["KeyPairId"]
            want.add((kid, "page-test", str(i)))
            want.add((kid, "idx%02d" % i, ""))
        got = []
        pages = 0
        paginator = self.ec2.get_paginator("describe_tags")
        for page in paginator.paginate(
                Filters=[{"Name": "resource-type", "Values": ["key-pair"]}],
                PaginationConfig={"PageSize": 5}):
            pages += 1
            self.assertLessEqual(len(page["Tags"]), 5)
            got += [(t["ResourceId"], t["Key"], t["Value"]) for t in page["Tags"]
                    if t["Key"] == "page-test" or t["Key"].startswith("idx")]
        self.assertEqual(len(got), len(set(got)), "a tag was returned twice")
        self.assertEqual(set(got), want)
        self.assertGreaterEqual(pages, 6)
        # Hand-driven MaxResults/NextToken sees the same tags.
        seen, token = [], None
        while True:
            kw = {"MaxResults": 5, "Filters": [{"Name": "key", "Values": ["page-test"]}]}
            if token:
                kw["NextToken"] = token
            out = self.ec2.describe_tags(**kw)
            seen += [t["ResourceId"] for t in out["Tags"]]
            token = out.get("NextToken")
            if not token:
                break
        self.assertEqual(sorted(seen), sorted({w[0] for w in want}))

    def test_create_describe_delete_tags(self):
        kid = self.ec2.create_key_pair(KeyName=PREFIX + "tags")["KeyPairId"]
        self.ec2.create_tags(Resources=[kid], Tags=[{"Key": "Name", "Value": "a"}, {"Key": "b", "Value": "c"}])
        tags = self.ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [kid]}])["Tags"]
        self.assertEqual(sorted((t["Key"], t["Value"], t["ResourceType"]) for t in tags),
                         [("Name", "a", "key-pair"), ("b", "c", "key-pair")])
        self.ec2.delete_tags(Resources=[kid], Tags=[{"Key": "b"}])
        tags = self.ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [kid]}])["Tags"]
        self.assertEqual([t["Key"] for t in tags], ["Name"])
        with self.assertRaises(ClientError) as cm:
            self.ec2.create_tags(Resources=[kid], Tags=[{"Key": "aws:reserved", "Value": "x"}])
        self.assertCode(cm, "InvalidParameterValue", "InvalidTag", "InvalidParameter")

    def test_dry_run_tags(self):
        kid = self.ec2.create_key_pair(KeyName=PREFIX + "drytags")["KeyPairId"]
        with self.assertRaises(ClientError) as cm:
            self.ec2.create_tags(Resources=[kid], Tags=[{"Key": "x", "Value": "y"}], DryRun=True)
        self.assertCode(cm, "DryRunOperation")
        tags = self.ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [kid]}])["Tags"]
        self.assertEqual(tags, [])


class Tenancy(Base):
    def test_isolation(self):
        proc = subprocess.run([STRATO_BIN, "account", "create", "--name", "pytenant", "--data-dir", DATA_DIR],
                              capture_output=True, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        mine = self.ec2.create_key_pair(KeyName=PREFIX + "shared-name")["KeyPairId"]
        other = client(profile="pytenant")
        self.assertEqual(other.describe_key_pairs()["KeyPairs"], [])
        self.assertEqual(other.describe_tags()["Tags"], [])
        theirs = other.create_key_pair(KeyName=PREFIX + "shared-name")["KeyPairId"]
        self.assertNotEqual(mine, theirs)
        with self.assertRaises(ClientError) as cm:
            other.describe_key_pairs(KeyPairIds=[mine])
        self.assertCode(cm, "InvalidKeyPair.NotFound")
        ident = client("sts", profile="pytenant").get_caller_identity()
        self.assertEqual(ident["Account"], account_of_profile("pytenant"))
        self.assertNotEqual(ident["Account"], account_of_profile("default"))


class Result(unittest.TextTestResult):
    """Prints one `ok - name` / `not ok - name: why` line per test as well."""

    def _line(self, test, text):
        self.stream.writeln("%s - %s%s" % (text[0], test.id().split(".", 1)[-1], text[1]))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(test, ("ok", ""))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(test, ("ok", " # SKIP " + reason))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(test, ("not ok", ": " + str(err[1]).splitlines()[0][:300]))

    def addError(self, test, err):
        super().addError(test, err)
        self._line(test, ("not ok", ": %s: %s" % (err[0].__name__, str(err[1])[:300])))


if __name__ == "__main__":
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(stream=sys.stdout, resultclass=Result, verbosity=0).run(suite)
    failed = len(result.failures) + len(result.errors)
    print("boto3: %d passed, %d failed" % (result.testsRun - failed, failed))
    sys.exit(1 if failed else 0)
