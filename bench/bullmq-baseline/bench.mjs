// BullMQ baseline for QueueBench: the same redis-server, job count, concurrency and payload size, so the two can be
// compared side by side in one sitting. Prints one JSON line: enqueue_jps (addBulk, 1000 a call) and drain_jps
// (a no-op Worker at concurrency C until every job completed). RETENTION of completed jobs, named as in QueueBench:
// default (removeOnComplete: 1000, the newest 1,000 of the queue), all (removeOnComplete: false), none (true).
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';

const url = new URL(process.env.VALKEY_URL ?? 'redis://127.0.0.1:6379');
const options = { host: url.hostname, port: Number(url.port || 6379), password: url.password || undefined, maxRetriesPerRequest: null };
// BullMQ 6 in native ESM takes constructed clients; a Worker needs its own (it blocks on its connection).
const connection = new IORedis(options);
const workerConnection = new IORedis(options);
const N = Number(process.env.N ?? 20000);
const C = Number(process.env.C ?? 16);
const payload = { text: 'x'.repeat(180), n: 0 };
const name = `bullmq-bench-${process.pid}`;
const retention = process.env.RETENTION || 'default';
const removeOnComplete = { default: 1000, all: false, none: true }[retention];
if (removeOnComplete === undefined) throw new Error(`RETENTION must be default, all or none, not '${retention}'.`);
const jobOptions = { removeOnComplete, removeOnFail: 10000 };

const queue = new Queue(name, { connection });
await queue.obliterate({ force: true }).catch(() => {});

let start = process.hrtime.bigint();
for (let i = 0; i < N; i += 1000) {
  const batch = [];
  for (let j = i; j < Math.min(N, i + 1000); j++) batch.push({ name: 'noop', data: { ...payload, n: j }, opts: jobOptions });
  await queue.addBulk(batch);
}
const enqueueSeconds = Number(process.hrtime.bigint() - start) / 1e9;

let done = 0;
let finished;
const allDone = new Promise((resolve) => { finished = resolve; });
start = process.hrtime.bigint();
const worker = new Worker(name, async () => {}, { connection: workerConnection, concurrency: C });
worker.on('completed', () => { if (++done === N) finished(); });
await allDone;
const drainSeconds = Number(process.hrtime.bigint() - start) / 1e9;

await worker.close();
await queue.obliterate({ force: true }).catch(() => {});
await queue.close();
connection.disconnect();
workerConnection.disconnect();
console.log(JSON.stringify({
  system: 'bullmq', version: '6.7.0', n: N, c: C, retention,
  enqueue_jps: Math.round(N / enqueueSeconds), drain_jps: Math.round(N / drainSeconds),
}));
process.exit(0);
