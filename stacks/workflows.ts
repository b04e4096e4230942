/// <reference path="../.sst/platform/config.d.ts" />
/**
 * Placement in the cloud:
 *
 *   metadata table stream ──▶ EventBridge Pipe ──enrichment──▶ TableStream Lambda (records → [{pfs, path}])
 *                                   │
 *                                   └──target──▶ Placement state machine (one execution per file)
 *                                                   Copy → Verify → Commit → Trim, each a call of the
 *                                                   PlacementStep Lambda with { step, state }
 *   EventBridge Scheduler (hourly) ──▶ PlacementSweep state machine (ListWork → Map of the per-file states)
 *   a new `job` record (the API's placement.sweep) ──stream──▶ JobsPipe ──▶ PlacementSweep with { job, start: true }
 *   PlacementSweep, page done and more to go ──states:startExecution──▶ PlacementSweep (the next page: a fresh execution)
 *
 * The state machine's definition is the ASL compiled from core/workflows/placement.ts — the same
 * one the local runner executes — deployed with the raw `aws.sfn.StateMachine` (SST's
 * `sst.aws.StepFunctions` emits JSONata, which the local runner ignores). Standard type: the
 * happy path is 4 state transitions per placed file.
 *
 * Wired by sst.config.ts. The functions get the deployment's S3 bucket (STRATA_BUCKET): their
 * cold start registers it as the volume record "s3", the default volume (runtime/lambda.ts).
 * Type-checked only after `sst install`, like every stack.
 */
import { toAsl } from "../core/workflows/definition";
import { placementWorkflow, sweepWorkflow } from "../core/workflows/placement";
import { volumeBucket } from "./api";
import { metadataTable } from "./metadata";

const GRACE_SECONDS = 60;

const environment = {
  STRATA_TABLE: metadataTable.name,
  STRATA_BUCKET: volumeBucket.name,
  STRATA_PLACEMENT_GRACE_SECONDS: String(GRACE_SECONDS),
};

export const placementStep = new sst.aws.Function("PlacementStep", {
  handler: "functions/workflow/step.handler",
  runtime: "nodejs22.x",
  architecture: "arm64",
  memory: "1024 MB",
  // A Copy step moves every missing chunk of one file (≤ 1,000 chunks of 8 MiB).
  timeout: "15 minutes",
  // The copy step reads and writes chunks on the default-volume bucket.
  link: [metadataTable, volumeBucket],
  environment,
});

export const tableStream = new sst.aws.Function("PlacementTableStream", {
  handler: "functions/triggers/table-stream.handler",
  runtime: "nodejs22.x",
  architecture: "arm64",
  memory: "512 MB",
  timeout: "60 seconds",
  link: [metadataTable],
  environment,
});

// https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html
const machineRole = new aws.iam.Role("PlacementMachineRole", {
  assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "states.amazonaws.com" }),
  inlinePolicies: [
    {
      name: "invoke-step",
      policy: placementStep.nodes.function.arn.apply((arn) =>
        JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [arn, `${arn}:*`] }],
        }),
      ),
    },
  ],
});

// https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html
export const placementMachine = new aws.sfn.StateMachine("Placement", {
  type: "STANDARD",
  roleArn: machineRole.arn,
  definition: placementStep.nodes.function.arn.apply((arn) =>
    JSON.stringify(toAsl(placementWorkflow({ graceSeconds: GRACE_SECONDS }), () => arn)),
  ),
});

// The sweeper: the same per-file states in a Map over pages of files needing work (ListWork is
// the step Lambda's "sweepList"), started every hour by EventBridge Scheduler.
export const sweepMachine = new aws.sfn.StateMachine("PlacementSweep", {
  type: "STANDARD",
  roleArn: machineRole.arn,
  definition: placementStep.nodes.function.arn.apply((arn) =>
    JSON.stringify(toAsl(sweepWorkflow({ graceSeconds: GRACE_SECONDS }), () => arn)),
  ),
});

// The sweep's Next state starts the next page as a fresh execution of the same machine
// (`$$.StateMachine.Id`): a policy attached after the machine exists, so no cycle.
// https://docs.aws.amazon.com/step-functions/latest/dg/connect-stepfunctions.html
new aws.iam.RolePolicy("PlacementSweepNextPage", {
  role: machineRole.id,
  policy: $jsonStringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: ["states:StartExecution"], Resource: [sweepMachine.arn] }],
  }),
});

// https://docs.aws.amazon.com/scheduler/latest/UserGuide/setting-up.html#setting-up-execution-role
const schedulerRole = new aws.iam.Role("PlacementSweepSchedulerRole", {
  assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "scheduler.amazonaws.com" }),
  inlinePolicies: [
    {
      name: "start-sweep",
      policy: $jsonStringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: ["states:StartExecution"], Resource: [sweepMachine.arn] }],
      }),
    },
  ],
});

// https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html
export const sweepSchedule = new aws.scheduler.Schedule("PlacementSweepHourly", {
  scheduleExpression: "rate(1 hour)",
  flexibleTimeWindow: { mode: "FLEXIBLE", maximumWindowInMinutes: 15 },
  target: { arn: sweepMachine.arn, roleArn: schedulerRole.arn, input: JSON.stringify({ limit: 100 }) },
});

// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-permissions.html
const pipeRole = new aws.iam.Role("PlacementPipeRole", {
  assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "pipes.amazonaws.com" }),
  inlinePolicies: [
    {
      name: "stream-enrich-start",
      policy: $jsonStringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Action: [
              "dynamodb:DescribeStream",
              "dynamodb:GetRecords",
              "dynamodb:GetShardIterator",
              "dynamodb:ListStreams",
            ],
            Resource: [metadataTable.nodes.table.streamArn],
          },
          { Effect: "Allow", Action: ["lambda:InvokeFunction"], Resource: [tableStream.nodes.function.arn] },
          {
            Effect: "Allow",
            Action: ["states:StartExecution"],
            Resource: [placementMachine.arn, sweepMachine.arn],
          },
        ],
      }),
    },
  ],
});

// https://docs.aws.amazon.com/eventbridge/latest/pipes-reference/API_CreatePipe.html
export const placementPipe = new aws.pipes.Pipe("PlacementPipe", {
  roleArn: pipeRole.arn,
  source: metadataTable.nodes.table.streamArn,
  sourceParameters: {
    dynamodbStreamParameters: {
      startingPosition: "LATEST",
      batchSize: 100,
      maximumBatchingWindowInSeconds: 1,
    },
    // Only items that can mean placement work reach the enrichment (the trigger re-checks).
    filterCriteria: {
      filters: [
        { pattern: JSON.stringify({ dynamodb: { Keys: { pk: { S: [{ prefix: "chg#" }] } } } }) },
        { pattern: JSON.stringify({ dynamodb: { Keys: { pk: { S: [{ prefix: "objective#" }] } } } }) },
        { pattern: JSON.stringify({ dynamodb: { Keys: { pk: { S: ["volume"] } } } }) },
      ],
    },
  },
  enrichment: tableStream.nodes.function.arn,
  target: placementMachine.arn,
  targetParameters: { stepFunctionStateMachineParameters: { invocationType: "FIRE_AND_FORGET" } },
});

// Jobs (core/jobs, docs/jobs.md): the API only writes a job's record; its INSERT on the stream
// starts the kind's machine with `{ job, start: true }` (one record per execution: batch of 1,
// so the input template sees one record), and the machine's Start step reads the record.
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-pipes-input-transformation.html
export const jobsPipe = new aws.pipes.Pipe("JobsPipe", {
  roleArn: pipeRole.arn,
  source: metadataTable.nodes.table.streamArn,
  sourceParameters: {
    dynamodbStreamParameters: { startingPosition: "LATEST", batchSize: 1 },
    filterCriteria: {
      filters: [
        {
          pattern: JSON.stringify({
            eventName: ["INSERT"],
            dynamodb: { Keys: { pk: { S: ["job"] } }, NewImage: { kind: { S: ["placement.sweep"] } } },
          }),
        },
      ],
    },
  },
  target: sweepMachine.arn,
  targetParameters: {
    inputTemplate: '{"job": "<$.dynamodb.Keys.sk.S>", "start": true}',
    stepFunctionStateMachineParameters: { invocationType: "FIRE_AND_FORGET" },
  },
});
