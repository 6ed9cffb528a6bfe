import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Admin } from '@platformatic/kafka';
import { TallyError } from '../lib/errors.js';
import { freePorts } from './ports.js';

/** How long a start may take before it is given up. */
const START_TIMEOUT_MS = 60_000;

/** The broker's jars, copied from Maven Central by `kafka/pom.xml`. */
export const KAFKA_LIB = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'kafka', 'lib');

/** The command that fetches them (what `.ci/run` runs before the tests). */
export const KAFKA_FETCH_COMMAND =
  'mvn -q -B -f kafka/pom.xml dependency:copy-dependencies -DoutputDirectory=lib -DincludeScope=runtime';

export interface KafkaBroker {
  /** `host:port` of the broker's client listener. */
  brokers: string[];
  /** `host:port` of its SASL/SCRAM-SHA-512 listener (plain text), when asked for one. */
  scramBrokers?: string[];
  pid(): number | undefined;
  /** Kills the broker at once (SIGKILL), as a crash would; `start()` brings it back on the same ports and data. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface KafkaBrokerOptions {
  /** The broker's log directory and config; kept between starts. */
  dataDir: string;
  /** Where the broker's own output goes. @default ignored */
  onOutput?: (line: string) => void;
  /**
   * A second listener that takes SASL/SCRAM-SHA-512 (without TLS) from this user, as a managed
   * cluster asks for it; the user is stored when the storage is first formatted. @default none
   */
  scramUser?: { username: string; password: string };
  /**
   * Called when the broker ended without being asked (killed from outside, crashed): it is started
   * again on the same ports and data, as kinesis-local is. @default not started again
   */
  onRestart?: (reason: string) => void;
}

/** Why a broker cannot start here, naming what is missing; null when the jars and Java are present. */
export function kafkaMissing(): string | null {
  if (!existsSync(KAFKA_LIB) || !readdirSync(KAFKA_LIB).some((f) => f.startsWith('kafka_2.13-')))
    return `the Kafka broker's jars are not in ${KAFKA_LIB}: run \`${KAFKA_FETCH_COMMAND}\` (needs Maven and Maven Central)`;
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (java.error) return `a Kafka broker needs Java 17 or newer on the PATH: ${java.error.message}`;
  return null;
}

/** A KRaft cluster id: 16 random bytes, base64url without padding, as Kafka's storage tool makes them. */
function clusterId(): string {
  return randomBytes(16).toString('base64url');
}

function config(dataDir: string, client: number, controller: number, scram: number | null): string {
  const scramListener = scram === null ? '' : `,SASL_PLAINTEXT://127.0.0.1:${scram}`;
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controller}`,
    `listeners=PLAINTEXT://127.0.0.1:${client},CONTROLLER://127.0.0.1:${controller}${scramListener}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${client}${scramListener}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT',
    ...(scram === null
      ? []
      : [
          'sasl.enabled.mechanisms=SCRAM-SHA-512',
          'listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
        ]),
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${join(dataDir, 'logs')}`,
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    // A broker killed and started again registers anew only once its last session has expired
    // (9 s by default): 12.6 s to answer after a SIGKILL here, 4.6 s with this.
    'broker.session.timeout.ms=2000',
    'broker.heartbeat.interval.ms=500',
    '',
  ].join('\n');
}

/** The broker's launcher, which ends it when this process goes away (kafka/Watchdog.java). */
const WATCHDOG = join(KAFKA_LIB, '..', 'Watchdog.java');

/** The broker as a child: its stdin a pipe this process never writes, so it ends with this process. */
function spawnBroker(properties: string, onOutput?: (line: string) => void): ChildProcess {
  const child = spawn('java', ['-Xmx512m', '-cp', join(KAFKA_LIB, '*'), WATCHDOG, properties], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      // SLF4J's notice that no logging backend is on the class path says nothing about the broker.
      for (const line of chunk.split('\n'))
        if (line.trim() !== '' && !line.startsWith('SLF4J:')) onOutput?.(line);
    });
  }
  return child;
}

async function answers(brokers: string[]): Promise<boolean> {
  const admin = new Admin({ clientId: 'tally-probe', bootstrapBrokers: brokers, retries: 0 });
  try {
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/**
 * Starts a single-node Apache Kafka broker in KRaft mode (broker and controller in one process)
 * from the jars Maven copied into `kafka/lib`, on free ports, formatting its storage the first
 * time; waits until it answers. No Docker: a JVM child process that ends with this process, even
 * when this one is killed (kafka/Watchdog.java).
 */
export async function startKafkaBroker(options: KafkaBrokerOptions): Promise<KafkaBroker> {
  const missing = kafkaMissing();
  if (missing) throw new TallyError('kafka_unavailable', missing);
  mkdirSync(options.dataDir, { recursive: true });
  const [client, controller, scram] = (await freePorts(3)) as [number, number, number];
  const properties = join(options.dataDir, 'server.properties');
  writeFileSync(properties, config(options.dataDir, client, controller, options.scramUser ? scram : null));
  if (!existsSync(join(options.dataDir, 'logs', 'meta.properties'))) {
    const format = spawnSync(
      'java',
      [
        '-cp',
        join(KAFKA_LIB, '*'),
        'kafka.tools.StorageTool',
        'format',
        `--cluster-id=${clusterId()}`,
        `--config=${properties}`,
        ...(options.scramUser
          ? [
              `--add-scram=SCRAM-SHA-512=[name=${options.scramUser.username},password=${options.scramUser.password}]`,
            ]
          : []),
      ],
      { encoding: 'utf8' },
    );
    if (format.status !== 0)
      throw new TallyError(
        'kafka_unavailable',
        `formatting the broker's storage failed: ${format.stderr.slice(-500)}`,
      );
  }
  const brokers = [`127.0.0.1:${client}`];
  let child: ChildProcess | null = null;
  // Set while kill() or stop() ends the broker on purpose: only other exits start it again.
  let ending = false;
  const exited = (c: ChildProcess) =>
    new Promise<void>((done) =>
      c.exitCode !== null || c.signalCode !== null ? done() : c.once('exit', () => done()),
    );
  const broker: KafkaBroker = {
    brokers,
    ...(options.scramUser ? { scramBrokers: [`127.0.0.1:${scram}`] } : {}),
    pid: () => child?.pid,
    async start() {
      child = spawnBroker(properties, options.onOutput);
      const started = child;
      started.once('exit', (code, signal) => {
        if (ending || child !== started || !options.onRestart) return;
        child = null;
        options.onRestart(`the Kafka broker ended (${signal ?? `code ${code}`})`);
        broker.start().catch((error: Error) => options.onOutput?.(`restart failed: ${error.message}`));
      });
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (!(await answers(brokers))) {
        if (started.exitCode !== null)
          throw new TallyError('kafka_unavailable', `the Kafka broker exited with code ${started.exitCode}`);
        if (Date.now() > deadline)
          throw new TallyError(
            'kafka_unavailable',
            `the Kafka broker did not answer within ${START_TIMEOUT_MS} ms`,
          );
        await new Promise((done) => setTimeout(done, 250));
      }
    },
    async kill() {
      const running = child;
      if (!running) return;
      ending = true;
      running.kill('SIGKILL');
      await exited(running);
      child = null;
      ending = false;
    },
    async stop() {
      const running = child;
      if (!running) return;
      ending = true;
      running.kill('SIGTERM');
      const timer = setTimeout(() => running.kill('SIGKILL'), 10_000);
      await exited(running);
      clearTimeout(timer);
      child = null;
    },
  };
  // A broker that never answered is not left running.
  await broker.start().catch(async (error: unknown) => {
    await broker.stop();
    throw error;
  });
  return broker;
}
