"""Deploys infra/template.yaml into moto's CloudFormation the way `sam deploy` deploys it to AWS,
and reads back what the stack created. Used by `cargo xtask deploy-local` and
xtask/tests/deploy_local.rs; prints one JSON object on stdout, progress on stderr.

  deploy_local.py deploy   --endpoint URL --region R --stack NAME --template PATH [--param K=V]...
  deploy_local.py describe --endpoint URL --region R --stack NAME
  deploy_local.py network  --endpoint URL --region R     (the default VPC and its subnets)
  deploy_local.py access-key --endpoint URL --region R --user NAME   (iam create-access-key)

deploy, as `sam package` + `sam deploy` do:
  1. uploads each AWS::Serverless::Function's local CodeUri (the zip `cargo xtask package-lambda`
     builds) to an artifacts bucket and points CodeUri at the object;
  2. translates the SAM template with aws-sam-translator (moto's CloudFormation does not run the
     AWS::Serverless-2016-10-31 transform itself);
  3. creates the stack, or updates it when it exists, and waits for *_COMPLETE.

moto's CloudFormation skips resource types it does not implement (with a warning, and the stack
still completes). So that none is dropped silently, the types it lacks (see UNSUPPORTED below)
are created by this script through moto's own service APIs, with their properties resolved by
moto: a test-only output per such resource holds `Fn::ToJsonString` of its properties, which
moto's CloudFormation resolves (Ref, GetAtt, Sub, If) like any other output. Those outputs are
named `Moto<LogicalId>` and left out of what this script prints as the stack's outputs. moto
serves plain HTTP and enforces bucket policies: statements about `aws:SecureTransport` are left
out of bucket and queue policies (logged), every other statement is applied. moto
leaves `!Ref AWS::NoValue` in them as null; it is removed as CloudFormation removes it. moto
resolves a reference to a resource it skipped to nothing: an output that is `!Ref` of one is
filled in with what this script created, an IAM user's `Groups` are joined through the IAM API,
and any other such reference fails the deploy, as does a type that moto lacks and this script
cannot create. The ids of what it created are kept in the artifacts bucket, for `describe` and
for the next update.

describe prints the stack (status, parameters, outputs), its resources, and each resource as its
service API describes it: Lambda function configuration, event source mappings, Kinesis
streams, ECS task definitions, Scheduler schedules, CloudWatch alarms, SQS queues.
"""

import argparse
import hashlib
import json
import os
import secrets
import sys
import time

import boto3
import botocore.config
import botocore.exceptions
import yaml

# Output-name prefix of the test-only outputs (see the docstring).
RESOLVED = "Moto"


def log(msg):
    print(f"deploy-local: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- reading the SAM template


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt, ...) in their long form."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        # !GetAtt Resource.Attribute (the attribute may itself hold dots)
        return {"Fn::GetAtt": value.split(".", 1)}
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _tag)


def load_template(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=CfnLoader)  # noqa: S506 (SafeLoader subclass)


# ---------------------------------------------------------------- clients


def clients(endpoint, region):
    config = botocore.config.Config(retries={"max_attempts": 2}, s3={"addressing_style": "path"})
    session = boto3.session.Session(region_name=region)

    def client(name):
        return session.client(name, endpoint_url=endpoint, config=config)

    return client


# ---------------------------------------------------------------- package (sam package)


def artifacts_bucket(client, region):
    """The bucket for uploaded code and this script's own state (like SAM's managed bucket)."""
    account = client("sts").get_caller_identity()["Account"]
    return f"pagehit-local-artifacts-{account}-{region}"


def package(template, template_dir, client, stack, region):
    """Uploads local CodeUri files; returns {logical id: {local, s3, bytes}}."""
    s3 = client("s3")
    bucket = artifacts_bucket(client, region)
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        kwargs = {}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(Bucket=bucket, **kwargs)
    uploaded = {}
    for lid, res in template.get("Resources", {}).items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        uri = res.get("Properties", {}).get("CodeUri")
        if not isinstance(uri, str) or uri.startswith("s3://"):
            continue
        path = os.path.normpath(os.path.join(template_dir, uri))
        if not os.path.isfile(path):
            raise SystemExit(
                f"{lid}: CodeUri {uri} is {path}, which does not exist "
                "(run `cargo xtask package-lambda`)"
            )
        with open(path, "rb") as f:
            body = f.read()
        # Content-addressed, as `sam package` does: an unchanged zip is the same object.
        key = f"{stack}/{lid}-{hashlib.sha256(body).hexdigest()[:16]}.zip"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        res["Properties"]["CodeUri"] = f"s3://{bucket}/{key}"
        uploaded[lid] = {"local": path, "s3": f"s3://{bucket}/{key}", "bytes": len(body)}
        log(f"uploaded {path} ({len(body)} bytes) to s3://{bucket}/{key}")
    return uploaded


# ---------------------------------------------------------------- translate (the SAM transform)


def translate(template, params, client, region):
    from samtranslator.public.translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform

    # The translator takes AWS::Region from boto's default session.
    os.environ["AWS_DEFAULT_REGION"] = region
    return transform(template, dict(params), ManagedPolicyLoader(client("iam")))


# ---------------------------------------------------------------- what moto's CloudFormation lacks


def unsupported_types():
    from moto.cloudformation.parsing import NULL_MODELS, get_model_map

    return lambda t: t not in get_model_map() and t not in NULL_MODELS and not t.startswith(
        "Custom::"
    )


def add_resolution_outputs(cfn_template):
    """Adds a `Moto<LogicalId>` output holding the resolved properties of each resource moto's
    CloudFormation would skip; returns {logical id: type}."""
    lacks = unsupported_types()
    skipped = {}
    outputs = cfn_template.setdefault("Outputs", {})
    for lid, res in cfn_template.get("Resources", {}).items():
        if not lacks(res["Type"]):
            continue
        if res["Type"] not in CREATORS:
            raise SystemExit(
                f"{lid}: moto's CloudFormation does not implement {res['Type']} and "
                "xtask/py/deploy_local.py cannot create it either: add it to CREATORS"
            )
        skipped[lid] = res["Type"]
    check_references_to_skipped(cfn_template, skipped)
    for lid, rtype in skipped.items():
        res = cfn_template["Resources"][lid]
        out = {"Value": {"Fn::ToJsonString": res.get("Properties", {})}}
        if "Condition" in res:
            out["Condition"] = res["Condition"]
        outputs[RESOLVED + lid] = out
    return skipped


def drop_no_value(value):
    """What moto's Fn::ToJsonString leaves of `!Ref AWS::NoValue` (null) removed, as
    CloudFormation removes it: from lists (`- !If [C, X, !Ref AWS::NoValue]`) and objects."""
    if isinstance(value, list):
        return [drop_no_value(v) for v in value if v is not None]
    if isinstance(value, dict):
        return {k: drop_no_value(v) for k, v in value.items() if v is not None}
    return value


def references(value):
    """Logical ids that `value` names with Ref, Fn::GetAtt or Fn::Sub."""
    found = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "Ref" and isinstance(v, str):
                found.add(v)
            elif k == "Fn::GetAtt":
                found.add(v[0] if isinstance(v, list) else v.split(".")[0])
            elif k == "Fn::Sub":
                text = v[0] if isinstance(v, list) else v
                for name in text.split("${")[1:]:
                    found.add(name.split("}")[0].split(".")[0])
                found |= references(v)
            else:
                found |= references(v)
    elif isinstance(value, list):
        for v in value:
            found |= references(v)
    return found


def check_references_to_skipped(cfn_template, skipped):
    """moto resolves a reference to a resource it skipped to nothing. Fails unless every such
    reference is one this script fills in: an output that is exactly `!Ref` of it, or an IAM
    user's `Groups`."""
    for lid, res in cfn_template["Resources"].items():
        props = res.get("Properties", {})
        names = references(props) & set(skipped)
        if res["Type"] == "AWS::IAM::User":
            names -= {g["Ref"] for g in props.get("Groups", []) if isinstance(g, dict)}
        if names:
            raise SystemExit(
                f"{lid} refers to {sorted(names)}, which moto's CloudFormation does not create"
            )
    for name, out in cfn_template.get("Outputs", {}).items():
        names = references(out.get("Value")) & set(skipped)
        if names and not (isinstance(out["Value"], dict) and set(out["Value"]) == {"Ref"}):
            raise SystemExit(
                f"output {name} refers to {sorted(names)} other than by a plain !Ref, which "
                "this script cannot fill in"
            )


def physical_name(stack, lid):
    # Deterministic, so that an update finds what the deploy created.
    return f"{stack}-{lid}"[:64]


def stack_resources(client, stack):
    cfn = client("cloudformation")
    out = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack):
        for r in page["StackResourceSummaries"]:
            out[r["LogicalResourceId"]] = r
    return out


def create_schedule(client, stack, lid, props, resources):
    sched = client("scheduler")
    name = physical_name(stack, lid)
    target = props["Target"]
    # The one name that CloudFormation spells differently from the Scheduler API.
    network = target.get("EcsParameters", {}).get("NetworkConfiguration")
    if network and "AwsvpcConfiguration" in network:
        network["awsvpcConfiguration"] = network.pop("AwsvpcConfiguration")
    args = {
        "Name": name,
        "ScheduleExpression": props["ScheduleExpression"],
        "FlexibleTimeWindow": props["FlexibleTimeWindow"],
        "Target": target,
    }
    for key in ("ScheduleExpressionTimezone", "State", "Description", "GroupName"):
        if key in props:
            args[key] = props[key]
    try:
        sched.get_schedule(Name=name)
        sched.update_schedule(**args)
    except sched.exceptions.ResourceNotFoundException:
        sched.create_schedule(**args)
    return name


def delete_schedule(client, name):
    client("scheduler").delete_schedule(Name=name)


def create_alarm(client, stack, lid, props, resources):
    name = props.get("AlarmName", physical_name(stack, lid))
    args = dict(props)
    args["AlarmName"] = name
    client("cloudwatch").put_metric_alarm(**args)
    return name


def delete_alarm(client, name):
    client("cloudwatch").delete_alarms(AlarmNames=[name])


def create_metric_filter(client, stack, lid, props, resources):
    name = props.get("FilterName", physical_name(stack, lid))
    transformations = []
    for t in props["MetricTransformations"]:
        one = {
            "metricName": t["MetricName"],
            "metricNamespace": t["MetricNamespace"],
            "metricValue": t["MetricValue"],
        }
        if "DefaultValue" in t:
            one["defaultValue"] = float(t["DefaultValue"])
        transformations.append(one)
    client("logs").put_metric_filter(
        logGroupName=props["LogGroupName"],
        filterName=name,
        filterPattern=props["FilterPattern"],
        metricTransformations=transformations,
    )
    return f"{props['LogGroupName']}|{name}"


def delete_metric_filter(client, name):
    group, filter_name = name.split("|", 1)
    client("logs").delete_metric_filter(logGroupName=group, filterName=filter_name)


def create_group(client, stack, lid, props, resources):
    iam = client("iam")
    name = props.get("GroupName", physical_name(stack, lid))
    try:
        iam.get_group(GroupName=name)
    except iam.exceptions.NoSuchEntityException:
        iam.create_group(GroupName=name, Path=props.get("Path", "/"))
    for policy in props.get("Policies", []):
        iam.put_group_policy(
            GroupName=name,
            PolicyName=policy["PolicyName"],
            PolicyDocument=json.dumps(policy["PolicyDocument"]),
        )
    return name


def delete_group(client, name):
    iam = client("iam")
    for policy in iam.list_group_policies(GroupName=name)["PolicyNames"]:
        iam.delete_group_policy(GroupName=name, PolicyName=policy)
    iam.delete_group(GroupName=name)


def over_plain_http(lid, document):
    """The policy without its statements about `aws:SecureTransport`: moto serves plain HTTP and
    evaluates bucket policies, so the stack's "deny unless TLS" statement would refuse every
    request of the local pipeline. Every other statement is kept, and moto enforces it."""
    kept = []
    for st in document.get("Statement", []):
        if "aws:SecureTransport" in json.dumps(st.get("Condition", {})):
            log(f"{lid}: statement {st.get('Sid', '?')} left out (aws:SecureTransport; moto is plain HTTP)")
        else:
            kept.append(st)
    return dict(document, Statement=kept)


def create_bucket_policy(client, stack, lid, props, resources):
    document = over_plain_http(lid, props["PolicyDocument"])
    if document["Statement"]:
        client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(document))
    return props["Bucket"]


def delete_bucket_policy(client, name):
    try:
        client("s3").delete_bucket_policy(Bucket=name)
    except client("s3").exceptions.ClientError:
        pass  # none was put (every statement was about TLS)


def create_queue_policy(client, stack, lid, props, resources):
    sqs = client("sqs")
    document = over_plain_http(lid, props["PolicyDocument"])
    for url in props["Queues"]:
        sqs.set_queue_attributes(
            QueueUrl=url,
            Attributes={"Policy": json.dumps(document) if document["Statement"] else ""},
        )
    return ",".join(props["Queues"])


def delete_queue_policy(client, name):
    for url in name.split(","):
        client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})


def create_subscription(client, stack, lid, props, resources):
    args = {"TopicArn": props["TopicArn"], "Protocol": props["Protocol"]}
    if "Endpoint" in props:
        args["Endpoint"] = props["Endpoint"]
    return client("sns").subscribe(**args, ReturnSubscriptionArn=True)["SubscriptionArn"]


def delete_subscription(client, name):
    client("sns").unsubscribe(SubscriptionArn=name)


# type -> (create or update, delete): what this script does for a type moto's CloudFormation
# lacks, through the service's own API in moto.
CREATORS = {
    "AWS::Scheduler::Schedule": (create_schedule, delete_schedule),
    "AWS::CloudWatch::Alarm": (create_alarm, delete_alarm),
    "AWS::Logs::MetricFilter": (create_metric_filter, delete_metric_filter),
    "AWS::IAM::Group": (create_group, delete_group),
    "AWS::S3::BucketPolicy": (create_bucket_policy, delete_bucket_policy),
    "AWS::SQS::QueuePolicy": (create_queue_policy, delete_queue_policy),
    "AWS::SNS::Subscription": (create_subscription, delete_subscription),
}


def state_key(stack):
    return f"{stack}/emulated-resources.json"


def load_state(client, bucket, stack):
    try:
        body = client("s3").get_object(Bucket=bucket, Key=state_key(stack))["Body"].read()
        return json.loads(body)
    except Exception:  # noqa: BLE001 (no state yet)
        return {}


def create_skipped(client, stack, skipped, outputs, artifacts_bucket, template):
    """Creates, updates or deletes the resources moto's CloudFormation skipped; returns
    {logical id: {type, physical_id}}. Their physical ids are kept next to the artifacts (the
    stack does not know them)."""
    previous = load_state(client, artifacts_bucket, stack)
    resources = stack_resources(client, stack)
    state = {}
    for lid, rtype in skipped.items():
        value = outputs.get(RESOLVED + lid)
        if value is None:
            continue  # its condition is false
        props = drop_no_value(json.loads(value))
        create, _ = CREATORS[rtype]
        physical = create(client, stack, lid, props, resources)
        state[lid] = {"type": rtype, "physical_id": physical}
        log(f"{lid} ({rtype}): created through moto's API as {physical}")
        # Users that name this group (AWS::IAM::User Groups): moto's IAM user ignores them.
        if rtype == "AWS::IAM::Group":
            for ulid, res in template["Resources"].items():
                groups = res.get("Properties", {}).get("Groups", [])
                if res["Type"] == "AWS::IAM::User" and {"Ref": lid} in groups and ulid in resources:
                    client("iam").add_user_to_group(
                        GroupName=physical, UserName=resources[ulid]["PhysicalResourceId"]
                    )
    for lid, old in previous.get("resources", {}).items():
        if lid not in state:
            CREATORS[old["type"]][1](client, old["physical_id"])
            log(f"{lid} ({old['type']}): deleted")
    # Outputs that are `!Ref` of such a resource: moto left them out; their value is its id.
    filled = {}
    for name, out in template.get("Outputs", {}).items():
        ref = out.get("Value", {}).get("Ref") if isinstance(out.get("Value"), dict) else None
        if ref in state and name not in outputs:
            filled[name] = state[ref]["physical_id"]
    saved = {"resources": state, "outputs": filled}
    client("s3").put_object(
        Bucket=artifacts_bucket, Key=state_key(stack), Body=json.dumps(saved).encode()
    )
    return saved


# ---------------------------------------------------------------- create or update the stack


def wait(cfn, stack, started):
    while True:
        s = cfn.describe_stacks(StackName=stack)["Stacks"][0]
        status = s["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            break
        if time.monotonic() - started > 300:
            raise SystemExit(f"stack {stack} still {status} after 300 s")
        time.sleep(0.5)
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
        reasons = [
            f"  {e['LogicalResourceId']} {e['ResourceStatus']}: {e.get('ResourceStatusReason', '')}"
            for e in events
            if "FAILED" in e["ResourceStatus"]
        ]
        raise SystemExit(f"stack {stack} ended {status}:\n" + "\n".join(reasons))
    return s


def deploy(args):
    client = clients(args.endpoint, args.region)
    params = dict(p.split("=", 1) for p in args.param)
    template = load_template(args.template)
    uploaded = package(template, os.path.dirname(os.path.abspath(args.template)), client, args.stack, args.region)
    started = time.monotonic()
    cfn_template = translate(template, params, client, args.region)
    log(f"translated in {time.monotonic() - started:.1f} s")
    cfn = client("cloudformation")
    # What CloudFormation checks before it creates anything (moto runs cfn-lint for it), on the
    # translated template as it is, before the test-only outputs are added.
    cfn.validate_template(TemplateBody=json.dumps(cfn_template))
    log(f"validated in {time.monotonic() - started:.1f} s")
    skipped = add_resolution_outputs(cfn_template)
    body = json.dumps(cfn_template)
    declared = cfn_template.get("Parameters", {})
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise SystemExit(f"parameters not in the template: {', '.join(unknown)}")
    parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()]
    caps = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
    exists = any(
        s["StackName"] == args.stack and s["StackStatus"] != "DELETE_COMPLETE"
        for s in cfn.list_stacks()["StackSummaries"]
    )
    if exists:
        log(f"updating stack {args.stack}")
        cfn.update_stack(
            StackName=args.stack, TemplateBody=body, Parameters=parameters, Capabilities=caps
        )
    else:
        log(f"creating stack {args.stack}")
        cfn.create_stack(
            StackName=args.stack, TemplateBody=body, Parameters=parameters, Capabilities=caps
        )
    stack = wait(cfn, args.stack, started)
    log(f"{stack['StackStatus']} after {time.monotonic() - started:.1f} s")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    saved = create_skipped(
        client, args.stack, skipped, outputs, artifacts_bucket(client, args.region), cfn_template
    )
    outputs.update(saved["outputs"])
    emulated = saved["resources"]
    seconds = time.monotonic() - started
    json.dump(
        {
            "stack": args.stack,
            "region": args.region,
            "status": stack["StackStatus"],
            "seconds": round(seconds, 2),
            "outputs": {k: v for k, v in outputs.items() if not k.startswith(RESOLVED)},
            "parameters": {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])},
            "uploaded": uploaded,
            "emulated": emulated,
        },
        sys.stdout,
        indent=1,
        default=str,
    )
    print()


# ---------------------------------------------------------------- describe


def describe(args):
    client = clients(args.endpoint, args.region)
    cfn = client("cloudformation")
    stack = cfn.describe_stacks(StackName=args.stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    resources = {
        lid: {"type": r["ResourceType"], "physical_id": r.get("PhysicalResourceId")}
        for lid, r in stack_resources(client, args.stack).items()
    }
    saved = load_state(client, artifacts_bucket(client, args.region), args.stack)
    emulated = saved.get("resources", {})
    resources.update(emulated)
    outputs.update(saved.get("outputs", {}))
    out = {
        "stack": args.stack,
        "region": args.region,
        "status": stack["StackStatus"],
        "parameters": {p["ParameterKey"]: p.get("ParameterValue") for p in stack.get("Parameters", [])},
        "outputs": {k: v for k, v in outputs.items() if not k.startswith(RESOLVED)},
        "resources": resources,
        "emulated": sorted(emulated),
        "functions": {},
        "event_source_mappings": {},
        "streams": {},
        "task_definitions": {},
        "schedules": {},
        "alarms": {},
        "queues": {},
    }
    for lid, r in resources.items():
        t, pid = r["type"], r["physical_id"]
        if t == "AWS::Lambda::Function":
            out["functions"][lid] = client("lambda").get_function_configuration(FunctionName=pid)
        elif t == "AWS::Lambda::EventSourceMapping":
            out["event_source_mappings"][lid] = client("lambda").get_event_source_mapping(UUID=pid)
        elif t == "AWS::Kinesis::Stream":
            k = client("kinesis")
            summary = k.describe_stream_summary(StreamName=pid)["StreamDescriptionSummary"]
            summary["Shards"] = k.list_shards(StreamName=pid)["Shards"]
            out["streams"][lid] = summary
        elif t == "AWS::ECS::TaskDefinition":
            out["task_definitions"][lid] = client("ecs").describe_task_definition(
                taskDefinition=pid
            )["taskDefinition"]
        elif t == "AWS::Scheduler::Schedule":
            out["schedules"][lid] = client("scheduler").get_schedule(Name=pid)
        elif t == "AWS::CloudWatch::Alarm":
            out["alarms"][lid] = client("cloudwatch").describe_alarms(AlarmNames=[pid])[
                "MetricAlarms"
            ][0]
        elif t == "AWS::SQS::Queue":
            attrs = client("sqs").get_queue_attributes(QueueUrl=pid, AttributeNames=["All"])
            out["queues"][lid] = {"QueueUrl": pid, "Attributes": attrs["Attributes"]}
    for kind in out.values():
        if isinstance(kind, dict):
            for res in kind.values():
                if isinstance(res, dict):
                    res.pop("ResponseMetadata", None)
    json.dump(out, sys.stdout, indent=1, default=str)
    print()


def network(args):
    ec2 = clients(args.endpoint, args.region)("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
    json.dump(
        {
            "VpcId": vpc["VpcId"],
            "CidrBlock": vpc["CidrBlock"],
            "SubnetIds": sorted(s["SubnetId"] for s in subnets["Subnets"]),
        },
        sys.stdout,
    )
    print()


def dashboard_token(args):
    """The dashboard's token secret (made on first use with a random value), as docs/deploy.md
    makes one with `aws secretsmanager create-secret`."""
    sm = clients(args.endpoint, args.region)("secretsmanager")
    try:
        secret = sm.get_secret_value(SecretId=args.name)
    except sm.exceptions.ResourceNotFoundException:
        sm.create_secret(Name=args.name, SecretString=secrets.token_hex(32))
        secret = sm.get_secret_value(SecretId=args.name)
    json.dump({"ARN": secret["ARN"], "SecretString": secret["SecretString"]}, sys.stdout)
    print()


def access_key(args):
    key = clients(args.endpoint, args.region)("iam").create_access_key(UserName=args.user)
    json.dump(
        {k: key["AccessKey"][k] for k in ("AccessKeyId", "SecretAccessKey")}, sys.stdout
    )
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("deploy", "describe", "network", "access-key", "dashboard-token"):
        p = sub.add_parser(name)
        p.add_argument("--endpoint", required=True)
        p.add_argument("--region", required=True)
        if name in ("deploy", "describe"):
            p.add_argument("--stack", required=True)
        if name == "access-key":
            p.add_argument("--user", required=True)
        if name == "dashboard-token":
            p.add_argument("--name", required=True)
        if name == "deploy":
            p.add_argument("--template", required=True)
            p.add_argument("--param", action="append", default=[])
    args = parser.parse_args()
    try:
        commands = {"deploy": deploy, "describe": describe, "network": network}
        commands["access-key"] = access_key
        commands["dashboard-token"] = dashboard_token
        commands[args.cmd](args)
    except botocore.exceptions.BotoCoreError as e:
        raise SystemExit(f"{args.cmd}: {e}") from e
    except botocore.exceptions.ClientError as e:
        raise SystemExit(f"{args.cmd}: {e}") from e


if __name__ == "__main__":
    main()
