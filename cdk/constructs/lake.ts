import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { CfnDatabase, CfnTable } from 'aws-cdk-lib/aws-glue';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { GLUE_EVENT_COLUMNS, PARQUET_STORAGE } from '../../lib/warehouse/glue.js';

/** What a principal may do under which key prefixes of the lake (each prefix ends with `*`). */
export interface LakeAccess {
  /** s3:GetObject (no versions, ACLs or attributes). */
  get?: string[];
  /** s3:PutObject and s3:AbortMultipartUpload. */
  put?: string[];
  /** s3:DeleteObject only: never s3:DeleteObjectVersion, which deletes for good. */
  delete?: string[];
}

/**
 * Grants exactly `access` on `bucket`, plus s3:ListBucket on the bucket itself (the one bucket
 * action: no versions, uploads or bucket settings). ListBucket is not limited by `s3:prefix`: S3
 * answers a GetObject of a missing key 404 only to a caller that may list the bucket, 403 to any
 * other, and readers here tell "gone" (a compacted input, a retried erasure) from "denied" by it.
 * Key names are not secret (projects, days, shard ids); contents are.
 */
export function grantLakeAccess(bucket: IBucket, principal: IGrantable, access: LakeAccess): void {
  const statements: PolicyStatement[] = [
    new PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
  ];
  const on = (prefixes: string[] | undefined, actions: string[]) => {
    if (prefixes && prefixes.length > 0) {
      statements.push(
        new PolicyStatement({ actions, resources: prefixes.map((p) => bucket.arnForObjects(p)) }),
      );
    }
  };
  on(access.get, ['s3:GetObject']);
  on(access.put, ['s3:PutObject', 's3:AbortMultipartUpload']);
  on(access.delete, ['s3:DeleteObject']);
  for (const statement of statements) principal.grantPrincipal.addToPrincipalPolicy(statement);
}

export interface LakeProps {
  /** Days bad rows are kept under `bad/`. */
  badRowRetentionDays: number;
  /** Days a replaced or deleted object version is kept. */
  noncurrentVersionDays: number;
  /** Names the Glue database `tally_lake_<stage>` so stages coexist in one account. */
  stage?: string;
  /**
   * An existing lake bucket to adopt (the one a destroyed stack kept) instead of creating one:
   * its settings (versioning, lifecycle, access logs) stay as they are. @default a new bucket
   */
  bucketName?: string;
}

/**
 * The lake: a hardened bucket (no public access, TLS only, encrypted, owner-enforced, versioned
 * with noncurrent expiry, incomplete uploads aborted, bad rows expiring), its access logs in a
 * second bucket, and the Glue database and `events` table (partitions `project`, `dt`) that
 * StarRocks and Athena read. Partitions are registered by the lake writer as it creates them
 * (and again by the rollup, harmlessly), not projected.
 */
export class Lake extends Construct {
  readonly bucket: IBucket;
  /** Server access logs of the lake's buckets. */
  readonly accessLogs: Bucket;
  readonly glueDatabase: string;
  readonly glueTable: string;

  constructor(scope: Construct, id: string, props: LakeProps) {
    super(scope, id);
    const accessLogs = new Bucket(this, 'AccessLogs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      // No ACLs: S3 delivers the access logs under a bucket policy for logging.s3.amazonaws.com.
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      lifecycleRules: [
        {
          expiration: Duration.days(365),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.accessLogs = accessLogs;
    NagSuppressions.addResourceSuppressions(accessLogs, [
      {
        id: 'AwsSolutions-S1',
        reason: 'This is the access-log bucket of the lake; logging it to itself would loop.',
      },
    ]);
    this.bucket = props.bucketName
      ? Bucket.fromBucketName(this, 'Bucket', props.bucketName)
      : this.newBucket(accessLogs, props);
    // Stages in one account each get their own database (Glue names: lower case, digits, _).
    this.glueDatabase = props.stage ? `tally_lake_${props.stage.replaceAll('-', '_')}` : 'tally_lake';
    this.glueTable = 'events';
    const account = Stack.of(this).account;
    const database = new CfnDatabase(this, 'GlueDatabase', {
      catalogId: account,
      databaseInput: {
        name: this.glueDatabase,
        description: 'Tally lake: events as Parquet, partitioned by project and day',
      },
    });
    const table = new CfnTable(this, 'GlueEvents', {
      catalogId: account,
      databaseName: this.glueDatabase,
      tableInput: {
        name: this.glueTable,
        tableType: 'EXTERNAL_TABLE',
        parameters: { classification: 'parquet', EXTERNAL: 'TRUE' },
        partitionKeys: [
          { name: 'project', type: 'string' },
          { name: 'dt', type: 'string' },
        ],
        storageDescriptor: {
          columns: GLUE_EVENT_COLUMNS.map((c) => ({ name: c.Name, type: c.Type })),
          location: `s3://${this.bucket.bucketName}/events/`,
          inputFormat: PARQUET_STORAGE.InputFormat,
          outputFormat: PARQUET_STORAGE.OutputFormat,
          serdeInfo: { serializationLibrary: PARQUET_STORAGE.SerdeInfo.SerializationLibrary },
        },
      },
    });
    table.node.addDependency(database);
    // The catalog goes with the stack: it only describes the lake (which stays), and a kept
    // database of this fixed name would make the next deploy fail ("already exists"). After a
    // new deploy, `npm run partitions` registers the partitions of the kept lake again.
    database.applyRemovalPolicy(RemovalPolicy.DESTROY);
    table.applyRemovalPolicy(RemovalPolicy.DESTROY);
  }

  /** The lake bucket of a first deploy, hardened and with its lifecycle. */
  private newBucket(accessLogs: Bucket, props: LakeProps): Bucket {
    return new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'lake/',
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'tidy',
          abortIncompleteMultipartUploadAfter: Duration.days(1),
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionDays),
          // Compaction's deletes leave a delete marker once the version under it has expired.
          expiredObjectDeleteMarker: true,
        },
        { id: 'bad-rows', prefix: 'bad/', expiration: Duration.days(props.badRowRetentionDays) },
        // Compaction's audit records of finished work; manifests stay (a full rebuild reads them).
        {
          id: 'compactions-done',
          prefix: 'compactions/done/',
          expiration: Duration.days(props.badRowRetentionDays),
        },
      ],
    });
  }

  /** The Glue catalog, database and events table: what every Glue permission here names. */
  private glueArns(): string[] {
    const stack = Stack.of(this);
    return [
      stack.formatArn({ service: 'glue', resource: 'catalog' }),
      stack.formatArn({ service: 'glue', resource: 'database', resourceName: this.glueDatabase }),
      stack.formatArn({
        service: 'glue',
        resource: 'table',
        resourceName: `${this.glueDatabase}/${this.glueTable}`,
      }),
    ];
  }

  /**
   * What StarRocks (or any engine reading the lake through Glue) needs: the events' objects and
   * the catalog entries of the events table, read only.
   */
  grantReadEvents(principal: IGrantable): void {
    grantLakeAccess(this.bucket, principal, { get: ['events/*'] });
    principal.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [
          'glue:GetDatabase',
          'glue:GetDatabases',
          'glue:GetTable',
          'glue:GetTables',
          'glue:GetPartition',
          'glue:GetPartitions',
          'glue:BatchGetPartition',
        ],
        resources: this.glueArns(),
      }),
    );
  }

  /** Lets a function register partitions of the events table, and tells it which table. */
  grantRegisterPartitions(fn: IFunction & { addEnvironment(key: string, value: string): unknown }): void {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['glue:BatchCreatePartition', 'glue:GetTable', 'glue:GetDatabase'],
        resources: this.glueArns(),
      }),
    );
    fn.addEnvironment('TALLY_GLUE_DATABASE', this.glueDatabase);
    fn.addEnvironment('TALLY_GLUE_TABLE', this.glueTable);
  }
}
