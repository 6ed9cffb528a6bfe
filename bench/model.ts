/**
 * The scale model: what Tally needs and costs on AWS at a given event rate, from figures measured
 * on this machine (`npm run bench`) and list prices. `npm run model -- --events-per-second 1000000`.
 * Pure arithmetic: every input is a flag, every price is in PRICES with the date it was read.
 */

/** us-east-1 list prices (USD), as published on the AWS pricing pages; read 2025, not fetched here. */
export const PRICES = {
  asOf: '2025 (us-east-1 list prices; check the pricing pages before you rely on them)',
  /** HTTP API, per million requests (first 300 M a month), then after; a request per 512 KB. */
  httpApiPerMillion: 1.0,
  httpApiPerMillionOver300M: 0.9,
  /** Lambda on arm64, per GB-second and per million requests. */
  lambdaGbSecond: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  /** Kinesis on-demand: per stream-hour, per GB written (records rounded up to 1 KB), per GB read. */
  kinesisOnDemandStreamHour: 0.04,
  kinesisOnDemandGbIn: 0.08,
  kinesisOnDemandGbOut: 0.04,
  /** Kinesis provisioned: per shard-hour, per million 25 KB PUT payload units, extended retention per shard-hour. */
  kinesisShardHour: 0.015,
  kinesisPerMillionPutUnits: 0.014,
  kinesisExtendedRetentionShardHour: 0.02,
  /** On-demand retention past 24 h, per GB-month stored. */
  kinesisOnDemandRetentionGbMonth: 0.1,
  /** S3 Standard: per GB-month, per 1,000 PUT/LIST, per 1,000 GET. */
  s3GbMonth: 0.023,
  s3PerThousandPut: 0.005,
  s3PerThousandGet: 0.0004,
  /** Glue Data Catalog: per million requests and per 100,000 objects a month, past the free million of each. */
  gluePerMillionRequests: 1.0,
  gluePer100kObjects: 1.0,
  /** Application Load Balancer: per hour and per LCU-hour. */
  albHour: 0.0225,
  albLcuHour: 0.008,
  /** CloudFront HTTPS requests (US), per 10,000. */
  cloudFrontPer10kHttps: 0.01,
  /** An interface VPC endpoint, per hour in each zone and per GB it carries (first PB a month). */
  vpcEndpointHour: 0.01,
  vpcEndpointGb: 0.01,
  /** CloudWatch Logs, per GB ingested (standard class). */
  logsGbIngested: 0.5,
  /** Fargate on Linux/ARM (Graviton), per vCPU-hour and per GB-hour. */
  fargateArmVcpuHour: 0.03238,
  fargateArmGbHour: 0.00356,
  /** EC2 on demand: r7g.8xlarge (32 vCPU, 256 GiB: a StarRocks compute node), m7g.2xlarge (8 vCPU, 32 GiB: a frontend). */
  ec2R7g8xlargeHour: 1.7136,
  ec2M7g2xlargeHour: 0.3264,
  /** EBS gp3, per GB-month (a compute node's local cache). */
  ebsGp3GbMonth: 0.08,
  /**
   * Amazon MSK Serverless: per cluster-hour, per partition-hour, per GB written, per GB read, per
   * GB-month stored (us-east-1, from the MSK pricing page as last read; not fetched here).
   */
  mskServerlessClusterHour: 0.75,
  mskServerlessPartitionHour: 0.0015,
  mskServerlessGbIn: 0.1,
  mskServerlessGbOut: 0.05,
  mskServerlessGbMonth: 0.1,
  /** Amazon MSK provisioned (Standard brokers): kafka.m7g.xlarge per broker-hour, storage per GB-month. */
  mskM7gXlargeHour: 0.408,
  mskStorageGbMonth: 0.1,
  /** Data between availability zones, per GB each way (MSK provisioned: clients to brokers in other zones). */
  crossAzGbEachWay: 0.01,
  /** Lambda's Kafka event source mapping in provisioned mode (what its retry settings need), per event poller unit-hour. */
  lambdaEventPollerUnitHour: 0.185,
} as const;

/**
 * MSK Serverless' quotas per cluster (AWS documentation): 200 MiB/s written, 5 MiB/s written per
 * partition. An event poller unit of Lambda's provisioned mode reads up to 20 MB/s (an assumption
 * from AWS' description of the mode).
 */
const MSK_SERVERLESS = { clusterMBps: 200 * 1.048576, partitionMBps: 5 * 1.048576 };
const EVENT_POLLER_UNIT_MBPS = 20;

/**
 * An ALB LCU is the largest of: 25 new connections a second, 3,000 active connections a minute,
 * 1 GB an hour processed for container targets (0.4 GB for Lambda targets), 1,000 rule
 * evaluations a second past the 10 free per request (Tally has one rule: none are billed).
 */
const ALB_LCU = { newConnections: 25, activeConnections: 3000, gbPerHourTargets: 1, gbPerHourLambda: 0.4 };
/** HTTP request and response headers, and the response body, around each request's events. */
const REQUEST_OVERHEAD_BYTES = 600;
const RESPONSE_BYTES = 250;
/** An ALB access-log entry (~550 B a request), gzipped as the ALB delivers it (~1/8), kept 30 days. */
const ALB_LOG_GZIP_BYTES = 70;
const ALB_LOG_DAYS = 30;
/** A connection stays open this long after its last request (SDK keep-alive, the ALB's 60 s idle timeout). */
const CONNECTION_SECONDS = 60;

/** What this machine measured (`npm run bench`, 2 cores, Node 20) and the deployment's settings. */
export interface ModelInputs {
  eventsPerSecond: number;
  /** Events per HTTP request (analytics.js sends 1, server SDKs batch 15-100). */
  eventsPerRequest: number;
  projects: number;
  /** Collector throughput on one core (`BENCH_ONLY=ingest npm run bench`). */
  collectEventsPerCoreSecond: number;
  /** The container's server end to end on one core (`BENCH_ONLY=server npm run bench`). */
  containerEventsPerCoreSecond: number;
  /** Bytes of JSON per event in a request body (measured at start from the benchmark's events). */
  requestBytesPerEvent: number;
  /**
   * Bytes the Lambda tier logs a request: the collect function's log line and metric document
   * (measured at start from the real handler), the API's access-log line (its format with typical
   * values); Lambda's own START/END/REPORT lines are not written (its system logs at WARN).
   */
  lambdaLogBytesPerRequest: number;
  /** Share of requests that open a new connection (keep-alive reuses the rest). */
  newConnectionShare: number;
  /** CPU the container tier's autoscaling keeps (headroom for bursts). */
  containerTargetCpu: number;
  /** Tasks the container tier never goes below (one per zone of two). */
  containerMinTasks: number;
  /** Lake writer throughput on one core (`BENCH_ONLY=ingest npm run bench`). */
  lakeWriterEventsPerCoreSecond: number;
  /** Compaction throughput on one core (the scaling table of `npm run bench`). */
  compactionEventsPerCoreSecond: number;
  /** Bytes of a stream record per event (Brotli NDJSON), and of Parquet (ZSTD) per event. */
  recordBytesPerEvent: number;
  parquetBytesPerEvent: number;
  /** Wall time of one PutRecords call (billed, not CPU). */
  putRecordsMs: number;
  collectMemoryMb: number;
  lakeWriterMemoryMb: number;
  compactionMemoryMb: number;
  retentionHours: number;
  /** Days the lake keeps (storage is the steady state of this many days). */
  lakeDays: number;
  compactionTargetMb: number;
  /** (project, day) partitions one lake-writer batch touches (late events add a few). */
  partitionsPerBatch: number;
  /** Events an active id sends in a day: sets the ids per day (an assumption, not measured). */
  eventsPerIdPerDay: number;
  /** Share of a day's ids that are anonymous ids linked to a user (identity evidence). */
  linkedIdShare: number;
  /**
   * Lake rows a StarRocks core scans a second (Parquet, a few columns, a filter on the partition):
   * an assumption, not measured here (no StarRocks cluster).
   */
  starRocksRowsPerCoreSecond: number;
  /**
   * MB/s of producer writes a kafka.m7g.xlarge broker of MSK provisioned sustains with
   * replication factor 3 and one consumer group (an assumption to check against MSK's sizing
   * guide, not measured here).
   */
  mskBrokerIngressMBps: number;
}

export const DEFAULT_INPUTS: ModelInputs = {
  eventsPerSecond: 1_000_000,
  eventsPerRequest: 20,
  projects: 1,
  // Collect: the median of three `BENCH_ROUNDS=9 BENCH_ONLY=ingest npm run bench` runs on
  // 2026-12-02 with the four-lane hashing (170k-173k ev/s, the floor at 283k-293k; Node 20).
  // Lake writer: the median of three runs on 2026-12-05 with enrichment (68.0k-73.1k ev/s; 93.7k
  // before it, on 2026-12-02); compaction from the 10^7 row of the scaling table on 2026-11-22.
  collectEventsPerCoreSecond: 171_972,
  // Container: `BENCH_ONLY=server npm run bench` on 2026-12-05 with bundled records, 20,000
  // requests of 20 events through 64 keep-alive connections, server CPU only (Node 20; 43.6k
  // on a quiet machine, 37.9k-41.0k with other work running; 52.2k before bundling).
  containerEventsPerCoreSecond: 43_634,
  requestBytesPerEvent: 0,
  lambdaLogBytesPerRequest: 0,
  newConnectionShare: 0.05,
  containerTargetCpu: 0.5,
  containerMinTasks: 2,
  lakeWriterEventsPerCoreSecond: 72_485,
  compactionEventsPerCoreSecond: 64_067,
  recordBytesPerEvent: 0,
  parquetBytesPerEvent: 0,
  putRecordsMs: 15,
  collectMemoryMb: 1024,
  lakeWriterMemoryMb: 2048,
  compactionMemoryMb: 10_240,
  retentionHours: 168,
  lakeDays: 365,
  compactionTargetMb: 128,
  partitionsPerBatch: 1.2,
  eventsPerIdPerDay: 50,
  linkedIdShare: 0.1,
  starRocksRowsPerCoreSecond: 10_000_000,
  mskBrokerIngressMBps: 40,
};

/**
 * Bytes a row takes in StarRocks' tables before compression: a day id (dt 4, project ~10, id 8),
 * an id's first link or person (project ~10, ids 16, times 16).
 */
const DAY_ID_ROW_BYTES = 22;
const IDENTITY_ROW_BYTES = 42;
/** A 63-bit hash in a roaring bitmap: ids this sparse each take a container of their own (~16 B). */
const BITMAP_BYTES_PER_ID = 16;

const MONTH_S = 730 * 3600;
const LAMBDA_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** A Lambda has one vCPU at 1,769 MB, proportionally less below. */
const vcpus = (mb: number) => Math.min(6, mb / 1769);

/** Kinesis bills a provisioned stream per 25 KB PUT payload unit of each record. */
const PUT_UNIT_BYTES = 25 * 1024;

/** A provisioned stream for these records: shards (1 MB/s and 1,000 records/s each) and its monthly cost. */
function provisionedStream(
  i: ModelInputs,
  recordsPerSecond: number,
  recordBytes: number,
): { shards: number; monthlyUsd: number } {
  const ingressMBps = (recordsPerSecond * recordBytes) / 1e6;
  const shards = Math.max(Math.ceil(ingressMBps / 1), Math.ceil(recordsPerSecond / 1000), 1);
  const putUnits = recordsPerSecond * Math.ceil(recordBytes / PUT_UNIT_BYTES) * MONTH_S;
  const monthlyUsd =
    shards *
      730 *
      (PRICES.kinesisShardHour + (i.retentionHours > 24 ? PRICES.kinesisExtendedRetentionShardHour : 0)) +
    (putUnits / 1e6) * PRICES.kinesisPerMillionPutUnits;
  return { shards, monthlyUsd };
}

export interface CostLine {
  part: string;
  detail: string;
  monthlyUsd: number;
}

export interface Plan {
  sizing: Array<[string, string]>;
  costs: CostLine[];
  alternatives: CostLine[];
  total: number;
  /** `tally:ingest=containers`: the same pipeline behind an ALB and Fargate tasks. */
  containers: { costs: CostLine[]; total: number; tasks: number };
  /** StarRocks (shared-data) with 5-minute rollups: the same behind either front door. */
  warehouse: { costs: CostLine[]; total: number; computeNodes: number };
  /** Events a month, for the price per billion events. */
  monthlyEvents: number;
  /** The stream on each choice of `tally:stream` (Kinesis provisioned is the one in `costs`). */
  streams: CostLine[];
}

/** The parts of the Lambda tier's costs that the container tier replaces. */
const FRONT_DOOR = new Set([
  'API Gateway HTTP API',
  'Lambda collect',
  'CloudWatch Logs (collect)',
  'Kinesis (provisioned)',
]);

/**
 * The container tier's front door at this rate: an ALB (LCUs from processed bytes, new and
 * active connections) and 1-vCPU, 2-GB arm64 tasks kept at the target CPU, from the server's
 * measured events per core second. Everything behind the stream is the Lambda tier's.
 */
function containerFrontDoor(i: ModelInputs): { costs: CostLine[]; tasks: number } {
  const requestsPerSecond = i.eventsPerSecond / i.eventsPerRequest;
  const bytesPerRequest =
    i.eventsPerRequest * i.requestBytesPerEvent + REQUEST_OVERHEAD_BYTES + RESPONSE_BYTES;
  const gbPerHour = (requestsPerSecond * bytesPerRequest * 3600) / 1e9;
  const newPerSecond = requestsPerSecond * i.newConnectionShare;
  const lcus = Math.max(
    gbPerHour / ALB_LCU.gbPerHourTargets,
    newPerSecond / ALB_LCU.newConnections,
    (newPerSecond * CONNECTION_SECONDS) / ALB_LCU.activeConnections,
  );
  const vcpus = i.eventsPerSecond / i.containerEventsPerCoreSecond / i.containerTargetCpu;
  const tasks = Math.max(i.containerMinTasks, Math.ceil(vcpus));
  const taskHour = PRICES.fargateArmVcpuHour + 2 * PRICES.fargateArmGbHour;
  // The server bundles the records of concurrent requests into stream records of one PUT unit.
  const requestRecordBytes = i.eventsPerRequest * i.recordBytesPerEvent;
  const perBundle = Math.max(1, Math.floor((PUT_UNIT_BYTES - 1) / (requestRecordBytes + 4)));
  const bundleBytes = 1 + perBundle * (requestRecordBytes + 4);
  const stream = provisionedStream(i, requestsPerSecond / perBundle, bundleBytes);
  const streamGbMonth = ((requestsPerSecond / perBundle) * bundleBytes * MONTH_S) / 1e9;
  // What the ALB's access logs would keep (a gzipped line a request, ALB_LOG_DAYS days) when turned on.
  const albLogBytes = requestsPerSecond * ALB_LOG_GZIP_BYTES * 86_400 * ALB_LOG_DAYS;
  return {
    tasks,
    costs: [
      {
        part: 'ALB',
        detail: `${fmt(lcus)} LCU: ${fmt(gbPerHour, 0)} GB/h processed (${fmt(bytesPerRequest / 1024, 1)} KB a request), ${fmt(newPerSecond)} new connections/s`,
        monthlyUsd: 730 * (PRICES.albHour + lcus * PRICES.albLcuHour),
      },
      {
        part: 'Fargate collect',
        detail: `${fmt(tasks)} tasks of 1 vCPU, 2 GB (arm64) at ${fmt(i.containerTargetCpu * 100)}% CPU, ${fmt(i.containerEventsPerCoreSecond)} ev/s a core`,
        monthlyUsd: 730 * tasks * taskHour,
      },
      {
        // The tasks log once a minute; the ALB's access logs (a line a request to S3, gzipped)
        // are off unless tally:albAccessLogs=true: priced, not counted in the total.
        part: 'ALB access logs (S3)',
        detail: `off (tally:albAccessLogs=true: ${fmt(albLogBytes / 1e12, 1)} TB kept ${ALB_LOG_DAYS} days, $${fmt((albLogBytes / 1e9) * PRICES.s3GbMonth)} a month)`,
        monthlyUsd: 0,
      },
      {
        // The tasks have no public address: what they put on the stream goes through the Kinesis
        // interface endpoint (5 endpoints in 2 zones: Kinesis, Secrets Manager, ECR x2, Logs).
        part: 'VPC endpoints',
        detail: `${fmt(streamGbMonth / 1000, 1)} TB a month to Kinesis through its endpoint, 10 endpoint-zones`,
        monthlyUsd: 730 * 10 * PRICES.vpcEndpointHour + streamGbMonth * PRICES.vpcEndpointGb,
      },
      {
        part: 'Kinesis (provisioned)',
        detail: `${fmt(stream.shards)} shards, ${fmt(requestsPerSecond / perBundle)} records/s of ${fmt(bundleBytes / 1024, 1)} KB (${perBundle} requests bundled a record)`,
        monthlyUsd: stream.monthlyUsd,
      },
    ],
  };
}

/**
 * The lowest event rate from which the container tier costs less than the Lambda tier (same
 * events per request and bytes), by bisection on a log scale; null when it never does up to 10^8.
 */
export function crossoverEventsPerSecond(i: ModelInputs): number | null {
  const cheaper = (eps: number) => {
    const at = { ...i, eventsPerSecond: eps };
    const plan = planFor(at);
    return plan.containers.total < plan.total;
  };
  let low = 1;
  let high = 1e8;
  if (!cheaper(high)) return null;
  if (cheaper(low)) return low;
  for (let step = 0; step < 60; step++) {
    const mid = Math.sqrt(low * high);
    if (cheaper(mid)) high = mid;
    else low = mid;
  }
  return high;
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en', { maximumFractionDigits: digits });

/**
 * The stream at this rate on each choice: Kinesis provisioned (the default) and on demand, MSK
 * Serverless (clusters of 200 MiB/s, partitions of 5 MiB/s, data in and out, storage for the
 * retention) and MSK provisioned (m7g.xlarge brokers in three zones, storage for the retention
 * three times over, clients' bytes to brokers in other zones); a Kafka stream adds the lake
 * writer mapping's event poller units. One consumer: the lake writer reads every byte once.
 */
function streamChoices(
  i: ModelInputs,
  recordsPerSecond: number,
  recordBytes: number,
  kinesis: { provisioned: number; onDemand: number; shards: number; gbIn: number },
): CostLine[] {
  const mbps = (recordsPerSecond * recordBytes) / 1e6;
  const gbMonth = (mbps * MONTH_S) / 1e3;
  const retainedGb = (mbps * i.retentionHours * 3600) / 1e3;
  const epus = Math.max(1, Math.ceil(mbps / EVENT_POLLER_UNIT_MBPS));
  const pollers = epus * 730 * PRICES.lambdaEventPollerUnitHour;
  const clusters = Math.max(1, Math.ceil(mbps / MSK_SERVERLESS.clusterMBps));
  const partitions = Math.max(12, Math.ceil(mbps / MSK_SERVERLESS.partitionMBps));
  const serverless =
    clusters * 730 * PRICES.mskServerlessClusterHour +
    partitions * 730 * PRICES.mskServerlessPartitionHour +
    gbMonth * (PRICES.mskServerlessGbIn + PRICES.mskServerlessGbOut) +
    retainedGb * PRICES.mskServerlessGbMonth;
  const brokers = Math.max(3, 3 * Math.ceil(mbps / i.mskBrokerIngressMBps / 3));
  // Two thirds of the producers' and the pollers' bytes cross a zone to reach their partition's leader.
  const crossAz = (2 / 3) * gbMonth * 2 * (2 * PRICES.crossAzGbEachWay);
  const provisioned =
    brokers * 730 * PRICES.mskM7gXlargeHour + 3 * retainedGb * PRICES.mskStorageGbMonth + crossAz;
  return [
    {
      part: 'Kinesis provisioned (default)',
      detail: `${fmt(kinesis.shards)} shards`,
      monthlyUsd: kinesis.provisioned,
    },
    {
      part: 'Kinesis on-demand',
      detail: `${fmt(kinesis.gbIn / 1000, 1)} TB in (1 KB rounding)`,
      monthlyUsd: kinesis.onDemand,
    },
    {
      part: 'MSK Serverless',
      detail: `${fmt(clusters)} cluster(s) of 200 MiB/s for ${fmt(mbps, 1)} MB/s${clusters > 1 ? ' (a stack makes one: above 200 MiB/s, split the projects over stages)' : ''}, ${fmt(partitions)} partitions, ${fmt(gbMonth / 1000, 1)} TB in and out, ${fmt(retainedGb / 1000, 1)} TB kept ${i.retentionHours} h; + ${fmt(epus)} event poller unit(s) $${fmt(pollers)}`,
      monthlyUsd: serverless + pollers,
    },
    {
      part: 'MSK provisioned',
      detail: `${fmt(brokers)} kafka.m7g.xlarge (${fmt(i.mskBrokerIngressMBps)} MB/s each, assumed), ${fmt((3 * retainedGb) / 1000, 1)} TB of storage (3 replicas), cross-zone $${fmt(crossAz)}; + pollers $${fmt(pollers)}`,
      monthlyUsd: provisioned + pollers,
    },
  ];
}

export function planFor(i: ModelInputs): Plan {
  const eps = i.eventsPerSecond;
  const requestsPerSecond = eps / i.eventsPerRequest;
  const monthlyRequests = requestsPerSecond * MONTH_S;
  // One stream record per request (the collector packs a request's events into one record).
  const recordBytes = i.eventsPerRequest * i.recordBytesPerEvent;
  const recordsPerSecond = requestsPerSecond;
  const ingressMBps = (recordsPerSecond * recordBytes) / 1e6;
  const shards = provisionedStream(i, recordsPerSecond, recordBytes).shards;

  // Collect: CPU for the events of a request plus the PutRecords wait, at the function's memory.
  const collectSeconds =
    i.eventsPerRequest / (i.collectEventsPerCoreSecond * vcpus(i.collectMemoryMb)) + i.putRecordsMs / 1000;
  const collectGbSeconds = monthlyRequests * collectSeconds * (i.collectMemoryMb / 1024);
  const collectConcurrency = requestsPerSecond * collectSeconds;

  // Lake writer: batches bounded by Lambda's 6 MB payload (10,000 records rarely fit), per shard.
  const recordsPerInvocation = Math.min(10_000, Math.floor(LAMBDA_PAYLOAD_BYTES / Math.max(1, recordBytes)));
  const eventsPerInvocation = recordsPerInvocation * i.eventsPerRequest;
  const invocationsPerSecond = Math.max(eps / eventsPerInvocation, shards / 60);
  const writerSeconds = eventsPerInvocation / (i.lakeWriterEventsPerCoreSecond * vcpus(i.lakeWriterMemoryMb));
  const writerGbSeconds =
    (eps / i.lakeWriterEventsPerCoreSecond / vcpus(i.lakeWriterMemoryMb)) *
    MONTH_S *
    (i.lakeWriterMemoryMb / 1024);
  const filesPerHour = invocationsPerSecond * 3600 * i.partitionsPerBatch;
  const putsPerHour = filesPerHour + invocationsPerSecond * 3600; // + one manifest per batch

  // Lake: Parquet bytes, files before and after compaction.
  const lakeBytesPerDay = eps * 86_400 * i.parquetBytesPerEvent;
  const compactedFilesPerDay = Math.max(
    i.projects,
    Math.ceil(lakeBytesPerDay / (i.compactionTargetMb * 1024 * 1024)),
  );
  const storedGb = (lakeBytesPerDay * i.lakeDays) / 1e9;
  const compactionGbSeconds =
    (eps / (i.compactionEventsPerCoreSecond * vcpus(i.compactionMemoryMb))) *
    MONTH_S *
    (i.compactionMemoryMb / 1024);

  const httpApi =
    (Math.min(monthlyRequests, 300e6) / 1e6) * PRICES.httpApiPerMillion +
    (Math.max(0, monthlyRequests - 300e6) / 1e6) * PRICES.httpApiPerMillionOver300M;
  const gbIn = (recordsPerSecond * Math.ceil(recordBytes / 1024) * 1024 * MONTH_S) / 1e9;
  const onDemand =
    PRICES.kinesisOnDemandStreamHour * 730 +
    gbIn * PRICES.kinesisOnDemandGbIn +
    gbIn * PRICES.kinesisOnDemandGbOut +
    (gbIn / 730) * Math.max(0, i.retentionHours - 24) * PRICES.kinesisOnDemandRetentionGbMonth;
  const provisioned = provisionedStream(i, recordsPerSecond, recordBytes).monthlyUsd;
  const lambda = (gbSeconds: number, invocations: number) =>
    gbSeconds * PRICES.lambdaGbSecond + (invocations / 1e6) * PRICES.lambdaPerMillionRequests;
  const monthlyInvocations = invocationsPerSecond * MONTH_S;
  const s3Puts = (putsPerHour * 730) / 1000;
  const compactionGets = (filesPerHour * 730) / 1000;
  const glueRequests = Math.max(0, i.projects * 30 * 24 - 1e6); // a registration per new partition, then cached
  const costs: CostLine[] = [
    {
      part: 'API Gateway HTTP API',
      detail: `${fmt(monthlyRequests / 1e9, 1)} B requests`,
      monthlyUsd: httpApi,
    },
    {
      part: 'Lambda collect',
      detail: `${fmt(collectGbSeconds / 1e6, 1)} M GB-s, ~${fmt(collectConcurrency)} concurrent`,
      monthlyUsd: lambda(collectGbSeconds, monthlyRequests),
    },
    {
      part: 'CloudWatch Logs (collect)',
      detail: `${fmt(i.lambdaLogBytesPerRequest)} B a request (the function's metric document and the access log): ${fmt((monthlyRequests * i.lambdaLogBytesPerRequest) / 1e12, 1)} TB a month`,
      monthlyUsd: ((monthlyRequests * i.lambdaLogBytesPerRequest) / 1e9) * PRICES.logsGbIngested,
    },
    { part: 'Kinesis (provisioned)', detail: `${fmt(shards)} shards`, monthlyUsd: provisioned },
    {
      part: 'Lambda lake writer',
      detail: `${fmt(invocationsPerSecond, 1)}/s invocations of ${fmt(eventsPerInvocation)} events, ${fmt(writerSeconds, 1)} s each`,
      monthlyUsd: lambda(writerGbSeconds, monthlyInvocations),
    },
    {
      part: 'S3 PUTs (lake writer)',
      detail: `${fmt(putsPerHour)} PUT/hour`,
      monthlyUsd: s3Puts * PRICES.s3PerThousandPut,
    },
    {
      part: 'Lambda compaction',
      detail: `${fmt(compactionGbSeconds / 1e6, 2)} M GB-s (every event rewritten once)`,
      monthlyUsd: lambda(compactionGbSeconds, 730) + compactionGets * PRICES.s3PerThousandGet,
    },
    {
      part: 'S3 storage',
      detail: `${fmt(storedGb / 1000, 1)} TB over ${i.lakeDays} days`,
      monthlyUsd: storedGb * PRICES.s3GbMonth,
    },
    {
      part: 'Glue Data Catalog',
      detail: `${fmt(i.projects * i.lakeDays)} partitions`,
      monthlyUsd:
        (glueRequests / 1e6) * PRICES.gluePerMillionRequests +
        (Math.max(0, i.projects * i.lakeDays - 1e6) / 1e5) * PRICES.gluePer100kObjects,
    },
  ];
  // ALB in front of the same function: LCUs from rule evaluations (1,000/s each) or processed bytes.
  const requestBytes = i.eventsPerRequest * 600;
  const lcus = Math.max(requestsPerSecond / 1000, (requestsPerSecond * requestBytes * 3600) / 0.4e9, 1);
  const alternatives: CostLine[] = [
    {
      part: 'ALB instead of API Gateway',
      detail: `~${fmt(lcus)} LCU (Lambda targets: 0.4 GB/h per LCU)`,
      monthlyUsd: 730 * (PRICES.albHour + lcus * PRICES.albLcuHour),
    },
    {
      part: 'CloudFront + function URL instead',
      detail: 'HTTPS requests at $0.01 per 10,000',
      monthlyUsd: (monthlyRequests / 10_000) * PRICES.cloudFrontPer10kHttps,
    },
  ];
  const total = costs.reduce((sum, c) => sum + c.monthlyUsd, 0);
  const sizing: Array<[string, string]> = [
    ['requests/s', fmt(requestsPerSecond)],
    [
      'stream ingress',
      `${fmt(ingressMBps, 1)} MB/s in ${fmt(recordsPerSecond)} records/s of ${fmt(recordBytes / 1024, 1)} KB`,
    ],
    ['shards (provisioned)', fmt(shards)],
    ['collect concurrency', fmt(collectConcurrency)],
    [
      'lake writer',
      `${fmt(shards)} concurrent (one per shard), ${fmt(eventsPerInvocation)} events per batch`,
    ],
    ['lake files/hour before compaction', fmt(filesPerHour)],
    ['lake files/day after compaction', `${fmt(compactedFilesPerDay)} (${i.compactionTargetMb} MB each)`],
    ['lake bytes/day', `${fmt(lakeBytesPerDay / 1e9, 1)} GB`],
    [
      'StarRocks per 5-minute rollup',
      `${fmt((eps * 300) / 1e6, 0)} M events, ${fmt((eps * 300 * i.parquetBytesPerEvent) / 1e9, 1)} GB of new Parquet in ~${fmt(filesPerHour / 12)} files, each read 3 times through FILES() (its counted rows, its bots' ids, its bots' rows); the day so far (up to ${fmt((eps * 86_400) / 1e9, 1)} B events) is not read again`,
    ],
    ...warehouseSizing(i),
  ];
  // The container tier: its own front door, the Lambda tier's back.
  const front = containerFrontDoor(i);
  const containerCosts = [...front.costs, ...costs.filter((c) => !FRONT_DOOR.has(c.part))];
  const containers = {
    costs: containerCosts,
    total: containerCosts.reduce((sum, c) => sum + c.monthlyUsd, 0),
    tasks: front.tasks,
  };
  return {
    sizing,
    costs,
    alternatives,
    total,
    containers,
    warehouse: warehouseCosts(i, filesPerHour),
    monthlyEvents: eps * MONTH_S,
    streams: streamChoices(i, recordsPerSecond, recordBytes, { provisioned, onDemand, shards, gbIn }),
  };
}

/** A StarRocks compute node's memory a refresh may use (256 GiB, a fifth kept for the system and caches). */
const CN_QUERY_BYTES = 0.8 * 256 * 2 ** 30;
const CN_CORES = 32;
const FRONTENDS = 3;

/**
 * StarRocks in shared-data mode at this rate, as the refresh is built today (it reads the files
 * new since the last rollup, each three times, and the stored ids, values and evidence of the days
 * it appends to: today's so far, half a day's on average): compute nodes for the larger of the
 * refresh's memory (its largest MAU union or the distinct ids of a changed day,
 * `warehouseSizing`) and its scan at the assumed rows per core second; three frontends; each
 * node's cache disk for the two days a refresh reads; S3 for the native tables (bytes before
 * compression) and three GETs of each new file (today's new files are named by the manifests:
 * no listing).
 */
function warehouseCosts(
  i: ModelInputs,
  lakeFilesPerHour: number,
): { costs: CostLine[]; total: number; computeNodes: number } {
  const eventsPerDay = i.eventsPerSecond * 86_400;
  const idsPerDay = eventsPerDay / i.eventsPerIdPerDay;
  const memory = Math.max(30 * idsPerDay * BITMAP_BYTES_PER_ID, idsPerDay * DAY_ID_ROW_BYTES);
  const scanRowsPerSecond = 3 * i.eventsPerSecond + (3 * idsPerDay) / 2 / 300;
  const forMemory = Math.ceil(memory / CN_QUERY_BYTES);
  const forScan = Math.ceil(scanRowsPerSecond / (i.starRocksRowsPerCoreSecond * CN_CORES));
  const computeNodes = Math.max(1, forMemory, forScan);
  const cacheGb = (2 * eventsPerDay * i.parquetBytesPerEvent) / 1e9;
  const nativeGb = (365 * idsPerDay * (DAY_ID_ROW_BYTES + BITMAP_BYTES_PER_ID)) / 1e9;
  const refreshesPerMonth = MONTH_S / 300;
  const getsPerMonth = refreshesPerMonth * (lakeFilesPerHour / 12) * 3;
  const costs: CostLine[] = [
    {
      part: 'StarRocks compute nodes',
      detail: `${fmt(computeNodes)} r7g.8xlarge: ${fmt(forMemory)} for a refresh's ${fmt(memory / 2 ** 40, 1)} TiB of memory, ${fmt(forScan)} for ${fmt(scanRowsPerSecond / 1e6, 0)} M rows/s of scan (at an assumed ${fmt(i.starRocksRowsPerCoreSecond / 1e6, 0)} M a core)`,
      monthlyUsd: computeNodes * 730 * PRICES.ec2R7g8xlargeHour,
    },
    {
      part: 'StarRocks frontends',
      detail: `${FRONTENDS} m7g.2xlarge`,
      monthlyUsd: FRONTENDS * 730 * PRICES.ec2M7g2xlargeHour,
    },
    {
      part: 'StarRocks cache disk',
      detail: `${fmt(cacheGb / 1000, 1)} TB of gp3: two days of Parquet`,
      monthlyUsd: cacheGb * PRICES.ebsGp3GbMonth,
    },
    {
      part: 'StarRocks S3 storage',
      detail: `${fmt(nativeGb / 1000, 1)} TB of native tables (a year of day ids and bitmaps, before compression)`,
      monthlyUsd: nativeGb * PRICES.s3GbMonth,
    },
    {
      part: 'StarRocks S3 GETs',
      detail: `${fmt(getsPerMonth / 1e6, 1)} M a month: each new file (${fmt(lakeFilesPerHour / 12)} a rollup) read 3 times at each of ${fmt(refreshesPerMonth)} refreshes`,
      monthlyUsd: (getsPerMonth / 1000) * PRICES.s3PerThousandGet,
    },
  ];
  return { costs, total: costs.reduce((sum, c) => sum + c.monthlyUsd, 0), computeNodes };
}

/**
 * StarRocks' tables at this rate: no index of events (copies count once per event day by
 * construction), the day tables and bitmaps grow by a day's ids, the identity tables by the ids
 * ever linked. Bytes are before compression; ids per day come from the assumed events
 * per id.
 */
function warehouseSizing(i: ModelInputs): Array<[string, string]> {
  const eventsPerDay = i.eventsPerSecond * 86_400;
  const idsPerDay = eventsPerDay / i.eventsPerIdPerDay;
  const bytes = (n: number) => (n >= 1e12 ? `${fmt(n / 1e12, 1)} TB` : `${fmt(n / 1e9, 1)} GB`);
  const linkedPerYear = idsPerDay * i.linkedIdShare * 365;
  const newRows = i.eventsPerSecond * 300;
  return [
    [
      'copies of an event (rule 1)',
      `no index: a person counts once a day whatever rows they sent, so the ${fmt(eventsPerDay / 1e9, 1)} B events a day leave no state of their own`,
    ],
    [
      'day ids and evidence',
      `${fmt(idsPerDay / 1e6, 0)} M ids/day (${i.eventsPerIdPerDay} events each): ${bytes(idsPerDay * DAY_ID_ROW_BYTES)}/day of day_ids`,
    ],
    [
      'identity (anon_first, people)',
      `at most ${fmt(linkedPerYear / 1e9, 1)} B linked ids a year (${fmt(i.linkedIdShare * 100)}% of each day's ids, all new): ${bytes(linkedPerYear * IDENTITY_ROW_BYTES * 2)}/year; primary keys of ${bytes(linkedPerYear * 26 * 2)}/year (in memory unless StarRocks' persistent index is on)`,
    ],
    [
      'a rollup reads, per 5 minutes',
      `the new files: ${fmt(newRows / 1e6, 0)} M rows, ${bytes(newRows * i.parquetBytesPerEvent)} (the interval's); the stored ids, values and evidence of today, which it appends to: up to ${bytes(idsPerDay * DAY_ID_ROW_BYTES)} of day_ids by midnight (the day's people so far, not bounded by the interval); no listing of today (its manifests name the new files)`,
    ],
    [
      'a rollup holds, per 5 minutes',
      `the new rows' ids: at most ${bytes(Math.min(newRows, idsPerDay) * DAY_ID_ROW_BYTES)} (the interval's); today's ids merged with them: up to ${bytes(idsPerDay * DAY_ID_ROW_BYTES)}; daily bitmaps of ${bytes(idsPerDay * BITMAP_BYTES_PER_ID)} a day, a MAU unions 30 of them (${bytes(30 * idsPerDay * BITMAP_BYTES_PER_ID)} in the largest case, one window at a time: windows are recomputed from the days' persons, not updated, so this is not bounded by the interval)`,
    ],
  ];
}

export function formatPlan(inputs: ModelInputs, plan: Plan): string {
  const crossover = crossoverEventsPerSecond(inputs);
  const usd = (n: number) => `$${fmt(n)}`.padStart(12);
  return [
    `Tally at ${fmt(inputs.eventsPerSecond)} events/s (${inputs.eventsPerRequest} per request, ${inputs.projects} project(s)); prices: ${PRICES.asOf}`,
    `measured here: collect ${fmt(inputs.collectEventsPerCoreSecond)} ev/s/core, lake writer ${fmt(inputs.lakeWriterEventsPerCoreSecond)} ev/s/core, ` +
      `compaction ${fmt(inputs.compactionEventsPerCoreSecond)} ev/s/core, ${fmt(inputs.recordBytesPerEvent, 1)} B/event in stream records, ${fmt(inputs.parquetBytesPerEvent, 1)} B/event in Parquet`,
    '',
    ...plan.sizing.map(([k, v]) => `  ${k.padEnd(36)} ${v}`),
    '',
    '  monthly cost (730 h)',
    ...plan.costs.map((c) => `  ${c.part.padEnd(26)} ${usd(c.monthlyUsd)}   ${c.detail}`),
    `  ${'total'.padEnd(26)} ${usd(plan.total)}`,
    '',
    '  alternatives',
    ...plan.alternatives.map((c) => `  ${c.part.padEnd(34)} ${usd(c.monthlyUsd)}   ${c.detail}`),
    '',
    '  the stream (tally:stream), monthly: Kinesis is in the totals; Kafka replaces its line',
    ...plan.streams.map((c) => `  ${c.part.padEnd(34)} ${usd(c.monthlyUsd)}   ${c.detail}`),
    '',
    '  container tier (tally:ingest=containers), monthly',
    ...plan.containers.costs.map((c) => `  ${c.part.padEnd(26)} ${usd(c.monthlyUsd)}   ${c.detail}`),
    `  ${'total'.padEnd(26)} ${usd(plan.containers.total)}   ${(plan.containers.total / plan.total).toFixed(3)} of the Lambda tier's${inputs.eventsPerSecond === 1_000_000 ? ` (target at 1M events/s <= 0.2: ${plan.containers.total <= plan.total / 5 ? 'meets' : 'MISSES'})` : ''}`,
    `  ${'crossover'.padEnd(26)} ${crossover === null ? 'never below 10^8 events/s' : `containers cost less from ${fmt(crossover)} events/s (${fmt(crossover / inputs.eventsPerRequest, 1)} requests/s)`}`,
    '',
    '  warehouse (StarRocks shared-data, 5-minute rollups, as the refresh reads today), monthly',
    ...plan.warehouse.costs.map((c) => `  ${c.part.padEnd(26)} ${usd(c.monthlyUsd)}   ${c.detail}`),
    `  ${'total'.padEnd(26)} ${usd(plan.warehouse.total)}`,
    '',
    '  the whole pipeline (ingest, lake and warehouse), monthly',
    ...(
      [
        ['Lambda tier', plan.total],
        ['container tier', plan.containers.total],
      ] as const
    ).map(([tier, ingest]) => {
      const whole = ingest + plan.warehouse.total;
      return `  ${tier.padEnd(26)} ${usd(whole)}   $${fmt(whole / (plan.monthlyEvents / 1e9), 2)} per billion events`;
    }),
  ].join('\n');
}
