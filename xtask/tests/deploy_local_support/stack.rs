//! The stack as moto has it: its outputs and resources read back, and its wiring checked.

use super::*;

/// Where the test deploys: not `kinesis::REGION`, the harness's default, so that a region taken
/// from a constant instead of from the stack shows up as a stream or bucket not found.
pub const DEPLOY_REGION: &str = "eu-west-3";
/// The stack's name (the template's names derive from it).
pub const STACK: &str = "pagehit-it";

/// `deploy_local::describe`'s answer, with accessors that fail naming what is missing.
pub struct Stack {
    d: Value,
}

impl Stack {
    pub fn read(endpoint: &str) -> Stack {
        Stack {
            d: deploy_local::describe(endpoint, DEPLOY_REGION, STACK).expect("describe the stack"),
        }
    }

    pub fn output(&self, name: &str) -> String {
        self.d["outputs"][name]
            .as_str()
            .unwrap_or_else(|| {
                panic!(
                    "the stack has no output {name}; it has {}",
                    self.d["outputs"]
                )
            })
            .to_string()
    }

    pub fn parameter(&self, name: &str) -> String {
        self.d["parameters"][name]
            .as_str()
            .unwrap_or_else(|| panic!("the stack has no parameter {name}"))
            .to_string()
    }

    /// The one resource of `kind` (e.g. "functions") as its service describes it.
    pub fn only(&self, kind: &str) -> &Value {
        let all = self.d[kind]
            .as_object()
            .unwrap_or_else(|| panic!("no {kind}"));
        assert_eq!(
            all.len(),
            1,
            "expected one of {kind}, found {:?}",
            all.keys()
        );
        all.values().next().unwrap()
    }

    /// Physical ids of the stack's resources of CloudFormation `type`.
    pub fn physical_ids(&self, rtype: &str) -> Vec<String> {
        self.d["resources"]
            .as_object()
            .unwrap()
            .values()
            .filter(|r| r["type"] == rtype)
            .map(|r| r["physical_id"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    pub fn function(&self) -> &Value {
        self.only("functions")
    }

    pub fn mapping(&self) -> &Value {
        self.only("event_source_mappings")
    }

    pub fn stream(&self) -> &Value {
        self.only("streams")
    }

    pub fn schedule(&self) -> &Value {
        self.only("schedules")
    }

    /// The task definition the schedule runs, looked up by the ARN in the schedule's target.
    pub fn scheduled_task(&self) -> &Value {
        let arn = &self.schedule()["Target"]["EcsParameters"]["TaskDefinitionArn"];
        self.d["task_definitions"]
            .as_object()
            .unwrap()
            .values()
            .find(|td| &td["taskDefinitionArn"] == arn)
            .unwrap_or_else(|| {
                panic!("the schedule runs {arn}, not a task definition of the stack")
            })
    }

    /// The live dashboard's task definition, by the stack's output.
    pub fn dashboard_task(&self) -> &Value {
        let arn = self.output("DashboardTaskDefinitionArn");
        self.d["task_definitions"]
            .as_object()
            .unwrap()
            .values()
            .find(|td| td["taskDefinitionArn"] == arn.as_str())
            .unwrap_or_else(|| panic!("{arn} is not a task definition of the stack"))
    }

    /// The Lambda function's environment variables as the template set them.
    pub fn function_env(&self) -> BTreeMap<String, String> {
        self.function()["Environment"]["Variables"]
            .as_object()
            .map(|vars| {
                vars.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The region part of an ARN.
pub fn arn_region(arn: &str) -> String {
    arn.split(':')
        .nth(3)
        .unwrap_or_else(|| panic!("{arn} is not an ARN"))
        .to_string()
}

/// Checks that the stack's parts point at each other: what a broken `!Ref`/`!GetAtt`/`!Sub`
/// or a renamed output would break. (The runs below check the same again by using them.)
pub fn check_wiring(stack: &Stack) {
    let stream_arn = stack.output("StreamArn");
    assert_eq!(stack.stream()["StreamARN"], stream_arn.as_str());
    assert_eq!(
        stack.stream()["StreamName"],
        stack.output("StreamName").as_str()
    );
    assert_eq!(arn_region(&stream_arn), DEPLOY_REGION);
    let bucket = stack.output("BucketName");
    assert_eq!(stack.physical_ids("AWS::S3::Bucket"), vec![bucket.clone()]);
    let data = stack.output("DataLocation");
    assert!(
        data.starts_with(&format!("s3://{bucket}/")),
        "DataLocation {data} is not in the bucket {bucket}"
    );
    assert_eq!(stack.output("ReportsLocation"), format!("{data}/reports"));

    let f = stack.function();
    assert_eq!(
        f["FunctionName"],
        stack.output("AggregatorFunctionName").as_str()
    );
    assert_eq!(
        stack.function_env().get("AGGREGATOR_SINK"),
        Some(&data),
        "the Lambda lands where DataLocation says"
    );
    let m = stack.mapping();
    assert_eq!(m["EventSourceArn"], stream_arn.as_str());
    assert_eq!(m["FunctionArn"], f["FunctionArn"]);
    let queue = stack.only("queues");
    assert_eq!(
        queue["QueueUrl"],
        stack.output("FailedBatchQueueUrl").as_str()
    );
    assert_eq!(
        m["DestinationConfig"]["OnFailure"]["Destination"],
        queue["Attributes"]["QueueArn"]
    );

    // The alarm watches the failed-batch queue and tells the stack's topic.
    let alarms = stack.d["alarms"].as_object().expect("alarms");
    assert_eq!(alarms.len(), 2, "{:?}", alarms.keys());
    let alarm = &alarms["FailedBatchAlarm"];
    assert_eq!(
        alarm["AlarmName"],
        stack.output("FailedBatchAlarmName").as_str()
    );
    // The iterator-age alarm watches the function, an hour (the default) behind the stream.
    let age = &alarms["IteratorAgeAlarm"];
    assert_eq!(
        age["AlarmName"],
        stack.output("IteratorAgeAlarmName").as_str()
    );
    assert_eq!(age["Namespace"], "AWS/Lambda");
    assert_eq!(age["MetricName"], "IteratorAge");
    assert_eq!(
        age["Dimensions"],
        json!([{"Name": "FunctionName", "Value": f["FunctionName"]}])
    );
    assert_eq!(age["Threshold"].as_f64(), Some(3_600_000.0));
    assert_eq!(age["AlarmActions"], json!([stack.output("AlarmTopicArn")]));
    let queue_name = queue["Attributes"]["QueueArn"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap();
    assert_eq!(
        alarm["Dimensions"],
        json!([{"Name": "QueueName", "Value": queue_name}])
    );
    assert_eq!(
        alarm["AlarmActions"],
        json!([stack.output("AlarmTopicArn")])
    );

    // The schedule runs the stack's report task on the stack's cluster.
    let target = &stack.schedule()["Target"];
    let cluster = stack.output("ClusterName");
    assert!(
        target["Arn"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{cluster}")),
        "the schedule targets {}, not the cluster {cluster}",
        target["Arn"]
    );
    assert_eq!(
        target["EcsParameters"]["TaskDefinitionArn"],
        stack.output("ReportTaskDefinitionArn").as_str()
    );
    assert_eq!(
        target["EcsParameters"]["NetworkConfiguration"]["awsvpcConfiguration"]["SecurityGroups"],
        json!([stack.output("TaskSecurityGroupId")])
    );

    // The live dashboard reads the stack's stream; its service runs its task definition.
    let dashboard = &stack.dashboard_task()["containerDefinitions"][0];
    let command = dashboard["command"].as_array().unwrap();
    let stream = command.iter().position(|a| a == "--stream").unwrap() + 1;
    assert_eq!(command[stream], stack.output("StreamName").as_str());
    assert!(!stack.output("DashboardServiceName").is_empty());
    assert!(!stack.output("DashboardSecurityGroupId").is_empty());
}
